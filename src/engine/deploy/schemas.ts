/**
 * What `deploy` accepts and returns: the deploy tool's contract, also used by `update` (which
 * deploys) and the report (which shows a deployment's result). Kept apart from the pipeline so
 * that a caller that needs only the shapes does not load it.
 */
import { z } from "zod";
import { keyDescriptionSchema } from "../keys/key.js";
import { checkSchema, hostResultSchema, nextSchema, optionalHostSelectorSchema } from "../schemas.js";
import { DEFAULT_CONFIRM_TIMEOUT_SEC } from "./activation.js";
import type { PackageChange, UnitChange } from "./changes.js";
import type { ResourceFigures } from "./health.js";
import { limitsSchema } from "./limits.js";

export const deployModeSchema = z.enum(["standard", "fast", "emergency"]);
export const deployGoalSchema = z.enum(["switch", "boot", "test", "dry-activate"]);

/** Seconds the host waits for the deployer's confirmation before it reverts by itself. */
export const confirmTimeoutSchema = z
  .number()
  .int()
  .min(1)
  .max(3600)
  .optional()
  .describe(`magic rollback timeout in seconds (default ${DEFAULT_CONFIRM_TIMEOUT_SEC})`);

/** `nixos-rebuild --install-bootloader`: the activation runs with NIXOS_INSTALL_BOOTLOADER=1. */
export const installBootloaderSchema = z
  .boolean()
  .optional()
  .describe("install or reinstall the boot loader while activating (switch and boot goals)");

export const rolloutStrategySchema = z.enum(["parallel", "canary", "batches"]);
export const rolloutOnFailureSchema = z.enum(["stop", "rollback"]);

/** The deploy input's rollout fields. */
export const rolloutInput = {
  strategy: rolloutStrategySchema
    .optional()
    .describe(
      "parallel (default), canary (canary hosts first) or batches (batchSize at a time); stops at a failed wave",
    ),
  canary: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("canary's first wave: hosts or @tag (default: the first host)"),
  batchSize: z
    .string()
    .regex(/^[1-9][0-9]{0,5}%?$/, "a number of hosts (3) or a percentage of them (25%)")
    .optional()
    .describe('with strategy batches: hosts per wave, "3" or "25%" (default 25%)'),
  onFailure: rolloutOnFailureSchema
    .optional()
    .describe("on a failed wave: stop (default), or rollback the earlier waves too"),
};

export interface Rollout {
  strategy: z.infer<typeof rolloutStrategySchema>;
  canary?: string[];
  batchSize?: string;
  onFailure: z.infer<typeof rolloutOnFailureSchema>;
}

export const deployOptionsSchema = z.object({
  hosts: optionalHostSelectorSchema,
  mode: deployModeSchema.optional().describe("standard (default), fast, or emergency"),
  goal: deployGoalSchema.optional().describe("switch (default), boot, test, dry-activate"),
  dryRun: z.boolean().optional().describe("build, detect changes and copy, but do not activate"),
  confirmTimeoutSec: confirmTimeoutSchema,
  installBootloader: installBootloaderSchema,
  resume: z.string().optional().describe('resume an interrupted deployment: its id, or "latest"'),
  planId: z.string().optional().describe("run the plan the plan tool returned: its hosts, mode and dry run"),
  buildHost: z
    .string()
    .min(1)
    .optional()
    .describe(
      "build on this host of the fleet and copy from there (default: the inventory's buildHost, else here)",
    ),
  signingKey: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Nix secret key file (/etc/nix, ~/.config/nix, ~/.ssh) signing closures for hosts that do not trust the login user (default: the inventory's)",
    ),
  cache: z
    .string()
    .min(1)
    .optional()
    .describe(
      'an inventory binary cache to push closures to once, hosts substitute from it; "none" skips it',
    ),
  ...rolloutInput,
  limits: limitsSchema
    .optional()
    .describe("at once: build processes (2), copy and activate hosts (10); evalChunk: hosts per evaluator"),
  substituteOnDestination: z
    .boolean()
    .optional()
    .describe("hosts first fetch what they can from their own binary caches"),
});
export type DeployOptions = z.infer<typeof deployOptionsSchema> & { flake?: string };

const deployHostResultSchema = hostResultSchema(
  z.enum(["deployed", "unchanged", "dry-run", "failed", "rolled-back", "pending"]),
  {
    finishedEarlier: z.boolean().optional().describe("done by an earlier run of this deployment"),
    generationBefore: z.number().optional(),
    generationAfter: z.number().optional(),
    newSystem: z.string().optional(),
    packageChanges: z.array(z.string()).describe("name: old → new, at most 20"),
    packageChangeCount: z.number(),
    unitChanges: z.array(z.object({ unit: z.string(), action: z.string() })),
    durationMs: z.number(),
    connectionLost: z.boolean().optional(),
    notes: z.array(z.string()).optional().describe("things worth knowing that did not fail the host"),
    keys: z.array(keyDescriptionSchema).optional().describe("keys uploaded (never their content)"),
    logs: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe("journal lines of the units that failed"),
  },
);
export type HostResult = z.infer<typeof deployHostResultSchema>;

/** A deployment-wide check before any host is touched, with how long it took. */
export const validationCheckSchema = checkSchema.extend({ durationMs: z.number() });
export type ValidationCheck = z.infer<typeof validationCheckSchema>;

export const deployResultSchema = z.object({
  deploymentId: z.string(),
  status: z.enum(["succeeded", "failed"]),
  mode: deployModeSchema,
  goal: deployGoalSchema,
  dryRun: z.boolean(),
  checks: z
    .array(validationCheckSchema)
    .describe("validation before any host: syntax, anti-patterns, security audit (by mode)"),
  summary: z.string(),
  waves: z
    .array(
      z.object({
        name: z.string(),
        hosts: z.array(z.string()),
        outcome: z.enum(["succeeded", "failed", "not started", "rolled back"]),
      }),
    )
    .optional()
    .describe("a rollout in waves: each wave's hosts and how it ended (the rollout stops at a failed wave)"),
  hosts: z.array(deployHostResultSchema),
  next: nextSchema,
});
export type DeployResult = z.infer<typeof deployResultSchema>;

/** Details that do not fit a short result; kept in the record for the report. */
export interface HostDetails {
  packages: PackageChange[];
  units: UnitChange[];
  resourcesBefore?: ResourceFigures;
  resourcesAfter?: ResourceFigures;
  activationLog: string[];
  dryActivation?: string[];
}
