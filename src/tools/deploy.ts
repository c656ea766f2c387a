import { deploy } from "../engine/deploy/deployment.js";
import { deployOptionsSchema, deployResultSchema } from "../engine/deploy/schemas.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "deploy",
  title: "Deploy",
  description:
    "Builds each host's system, skips hosts where nothing changed, copies and activates it under magic rollback " +
    "(the host reverts unless confirmed over a new ssh connection), checks health (failed units, critical services) " +
    "and rolls back on any failure. Hosts by name, @tag or all, in parallel. dryRun stops before activation.",
  input: { ...deployOptionsSchema.shape, flake: flakeInput },
  output: deployResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  run: (engine, input, context) =>
    deploy(engine, input, { signal: context.signal, progress: (message) => void context.progress(message) }),
});
