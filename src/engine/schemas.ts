/**
 * The building blocks of the tools' contracts, shared so that one idea has one shape and one name
 * everywhere: the flake every operation takes, how hosts are selected, a host's result, a
 * pass/warn/fail check, a deployment in a few lines, and the `next` step every result ends with.
 * This module imports nothing but zod: a tool file that needs a schema loads no engine code.
 */
import { z } from "zod";

/** Every operation's input has `flake`; an operation's own fields come beside it. */
export const flakeInput = z
  .string()
  .min(1)
  .optional()
  .describe("the flake directory (default: the server's own)");

/** The input every tool starts from: `{ ...baseInput, ...its own fields }`. */
export const baseInput = { flake: flakeInput };

/** Host names, `@tag`s, or "all", as `selectHosts` (fleet/hosts.ts) reads them. */
const selectors = z.array(z.string().min(1)).min(1);
/** Hosts the operation must be told (rollback): nothing is chosen for the user. */
export const hostSelectorSchema = selectors.describe('host names, @tag, or "all"');
/** Hosts that may be left out when something else names them (deploy: a plan, a resumed deployment). */
export const optionalHostSelectorSchema = selectors.optional().describe('host names, @tag, or "all"');
/** Hosts that default to the whole fleet when left out. */
export const hostSelectorAllByDefault = selectors.optional().describe('host names, @tag, or "all" (default)');

/**
 * One host's entry in a result: the host, how it went (each operation has its own outcomes), the
 * operation's own fields, and why it failed when it did.
 */
export function hostResultSchema<Outcome extends z.ZodType, Fields extends z.ZodRawShape>(
  outcome: Outcome,
  fields: Fields,
) {
  return z.object({ host: z.string(), outcome, ...fields, error: z.string().optional() });
}

/** A check's verdict: pass goes ahead, warn goes ahead but is worth reading, fail stops. */
export const checkStatusSchema = z.enum(["pass", "warn", "fail"]);
/** One named check and what it found; a kind of check adds its own fields (timing, remedy). */
export const checkSchema = z.object({ check: z.string(), status: checkStatusSchema, detail: z.string() });

/** A deployment in a few lines per host, for results that deploy on the way (update, restore_lock). */
export const deploymentSummarySchema = z.object({
  deploymentId: z.string(),
  status: z.enum(["succeeded", "failed"]),
  summary: z.string(),
  hosts: z.array(
    hostResultSchema(z.string(), {
      generationBefore: z.number().optional(),
      generationAfter: z.number().optional(),
    }),
  ),
});
export type DeploymentSummary = z.infer<typeof deploymentSummarySchema>;

/** What the user (or the assistant) should do next, in a sentence naming tools and fields. */
export const nextSchema = z.string();
