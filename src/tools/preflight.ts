import { preflightOptionsSchema, preflightResultSchema } from "../engine/deploy/preflight.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "preflight",
  title: "Preflight checks",
  description:
    "Checks before a deploy, per host, in parallel: git status of the flake (untracked files are ignored by flakes), " +
    "the system evaluates, ssh answers, the host's Nix, free space in /nix here and there, no deploy lock held.",
  input: { ...preflightOptionsSchema.shape, ...baseInput },
  output: preflightResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/deploy/preflight.js")).preflight,
});
