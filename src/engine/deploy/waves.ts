/**
 * Rollouts in waves: instead of every selected host at once, a canary (one host or a tag) first and
 * then the rest, or batches of N hosts (or N %) one after the other. The rollout stops at the first
 * wave in which a host fails, so a bad configuration reaches as few machines as possible; hosts of
 * earlier waves keep their new system unless the rollout asks for them to be rolled back too.
 */
import { z } from "zod";
import { UserError } from "../errors.js";
import { type Fleet, type Host, selectHosts } from "../fleet/hosts.js";

export const rolloutStrategySchema = z.enum(["parallel", "canary", "batches"]);
export const rolloutOnFailureSchema = z.enum(["stop", "rollback"]);

/** The deploy input's rollout fields. */
export const rolloutInput = {
  strategy: rolloutStrategySchema
    .optional()
    .describe(
      "parallel (default): every host at once; canary: the canary hosts first, then the rest; batches: batchSize hosts at a time. A rollout stops at the first wave with a failed host",
    ),
  canary: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      "with strategy canary: the first wave, host names or @tag among the deployed hosts (default: the first host)",
    ),
  batchSize: z
    .string()
    .regex(/^[1-9][0-9]{0,5}%?$/, "a number of hosts (3) or a percentage of them (25%)")
    .optional()
    .describe('with strategy batches: hosts per wave, "3" or "25%" (default 25%)'),
  onFailure: rolloutOnFailureSchema
    .optional()
    .describe(
      "when a wave fails: stop (default) leaves earlier waves on their new system; rollback returns them to their previous generation too",
    ),
};

export interface Rollout {
  strategy: z.infer<typeof rolloutStrategySchema>;
  canary?: string[];
  batchSize?: string;
  onFailure: z.infer<typeof rolloutOnFailureSchema>;
}

export interface Wave {
  /** "all", "canary", "rest", or "batch 2 of 4". */
  name: string;
  hosts: string[];
}

const DEFAULT_BATCH = "25%";

/**
 * The rollout a deploy call asks for. A field that belongs to another strategy would change
 * nothing, so it is refused rather than ignored.
 */
export function rolloutOf(input: Partial<Record<keyof typeof rolloutInput, unknown>>): Rollout {
  const strategy = (input.strategy as Rollout["strategy"] | undefined) ?? "parallel";
  if (input.canary !== undefined && strategy !== "canary")
    throw new UserError(
      `canary names the first wave of a canary rollout, and the strategy is ${strategy}`,
      'add strategy: "canary", or leave canary out',
    );
  if (input.batchSize !== undefined && strategy !== "batches")
    throw new UserError(
      `batchSize sizes the waves of a batches rollout, and the strategy is ${strategy}`,
      'add strategy: "batches", or leave batchSize out',
    );
  if (input.onFailure !== undefined && strategy === "parallel")
    throw new UserError(
      "onFailure decides what happens when a wave fails, and a parallel deployment has a single wave",
      'choose strategy "canary" or "batches", or leave onFailure out',
    );
  return {
    strategy,
    canary: input.canary as string[] | undefined,
    batchSize: input.batchSize as string | undefined,
    onFailure: (input.onFailure as Rollout["onFailure"] | undefined) ?? "stop",
  };
}

/** Hosts per batch: "3" is three hosts, "25%" a quarter of them rounded up; at least one. */
export function batchHosts(batchSize: string, total: number): number {
  const percent = batchSize.endsWith("%");
  const value = Number.parseInt(batchSize, 10);
  if (!Number.isInteger(value) || value < 1 || (percent && value > 100))
    throw new UserError(
      `batchSize ${batchSize} is not a number of hosts or a percentage from 1% to 100%`,
      'give a number of hosts ("3") or a percentage ("25%")',
    );
  return Math.max(1, percent ? Math.ceil((value * total) / 100) : value);
}

/** The waves in which `hosts` (already selected, in order) are deployed. */
export function planWaves(fleet: Fleet, hosts: readonly Host[], rollout: Rollout): Wave[] {
  const names = hosts.map((h) => h.name);
  if (rollout.strategy === "parallel" || names.length === 0) return [{ name: "all", hosts: names }];
  if (rollout.strategy === "canary") {
    const canary = rollout.canary ? selectHosts(fleet, rollout.canary).map((h) => h.name) : names.slice(0, 1);
    const outside = canary.filter((name) => !names.includes(name));
    if (outside.length)
      throw new UserError(
        `the canary ${outside.join(", ")} is not among the hosts being deployed`,
        `choose the canary among: ${names.join(", ")}`,
      );
    if (canary.length === names.length)
      throw new UserError(
        "the canary is every host being deployed, so nothing would wait for it",
        "name fewer canary hosts, or deploy without a strategy",
      );
    return [
      { name: "canary", hosts: canary },
      { name: "rest", hosts: names.filter((name) => !canary.includes(name)) },
    ];
  }
  const size = batchHosts(rollout.batchSize ?? DEFAULT_BATCH, names.length);
  const count = Math.ceil(names.length / size);
  return Array.from({ length: count }, (_, i) => ({
    name: `batch ${i + 1} of ${count}`,
    hosts: names.slice(i * size, (i + 1) * size),
  }));
}
