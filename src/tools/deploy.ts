import { deployOptionsSchema, deployResultSchema } from "../engine/deploy/schemas.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "deploy",
  title: "Deploy",
  description:
    "Builds each host's system, skips hosts where nothing changed, copies and activates it under magic rollback " +
    "(the host reverts unless confirmed over a new ssh connection), checks health (failed units, critical services) " +
    "and rolls back on any failure. Hosts by name, @tag or all, in parallel. dryRun stops before activation.",
  input: { ...deployOptionsSchema.shape, ...baseInput },
  output: deployResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/deploy/deployment.js")).deploy,
});
