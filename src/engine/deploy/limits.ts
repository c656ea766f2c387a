/**
 * How much of a deployment runs at once, by kind of work, as colmena separates them: evaluator and
 * build processes on this machine (memory and CPU), copies (this machine's uplink), activations (how
 * many hosts are between two systems at a time). Each is set per call, else by the environment of
 * the server or CLI, else in the inventory's `limits`, else by default.
 */
import { z } from "zod";
import { UserError } from "../errors.js";

const limit = z.number().int().min(1).max(1000);

/** Described once, by the deploy tool's `limits` field: the tool list is read by the model. */
export const limitsSchema = z.strictObject({
  build: limit.optional(),
  copy: limit.optional(),
  activate: limit.optional(),
  evalChunk: limit.optional(),
});
export type LimitsInput = z.infer<typeof limitsSchema>;

export interface DeployLimits {
  build: number;
  copy: number;
  activate: number;
  /** Undefined: sized by free memory (evaluation.ts evalChunkSize). */
  evalChunk?: number;
}

export const DEFAULT_LIMITS: DeployLimits = { build: 2, copy: 10, activate: 10 };

/** The environment variable of each limit. */
export const LIMIT_VARIABLES = {
  build: "NIX_DEPLOY_BUILD_LIMIT",
  copy: "NIX_DEPLOY_COPY_LIMIT",
  activate: "NIX_DEPLOY_ACTIVATE_LIMIT",
  evalChunk: "NIX_DEPLOY_EVAL_CHUNK",
} as const satisfies Record<keyof DeployLimits, string>;

/** The deployment's limits: the call's, else the environment's, else the inventory's, else defaults. */
export function resolveLimits(
  call: LimitsInput | undefined,
  env: NodeJS.ProcessEnv,
  inventory: LimitsInput | undefined,
): DeployLimits {
  const pick = (name: keyof DeployLimits) =>
    call?.[name] ?? fromEnv(env, LIMIT_VARIABLES[name]) ?? inventory?.[name];
  return {
    build: pick("build") ?? DEFAULT_LIMITS.build,
    copy: pick("copy") ?? DEFAULT_LIMITS.copy,
    activate: pick("activate") ?? DEFAULT_LIMITS.activate,
    evalChunk: pick("evalChunk"),
  };
}

function fromEnv(env: NodeJS.ProcessEnv, variable: string): number | undefined {
  const value = env[variable];
  if (value === undefined || value === "") return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 1000)
    throw new UserError(
      `${variable} must be a whole number from 1 to 1000 (got ${JSON.stringify(value)})`,
      `unset ${variable} for the default, or set it to e.g. 4`,
    );
  return parsed;
}

/** Hosts whose steps run at once: enough for every copy and every activation to be busy. */
export function hostsInFlight(limits: DeployLimits): number {
  return Math.max(limits.copy, limits.activate);
}
