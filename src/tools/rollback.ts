import { rollback, rollbackOptionsSchema, rollbackResultSchema } from "../engine/deploy/rollback.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "rollback",
  title: "Roll back",
  description:
    "Returns hosts to an earlier generation (the previous one by default, or the given number), activated under " +
    "magic rollback and checked like a deploy. host_status lists the generations.",
  input: { ...rollbackOptionsSchema.shape, flake: flakeInput },
  output: rollbackResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  run: (engine, input, context) =>
    rollback(engine, input, { signal: context.signal, progress: (m) => void context.progress(m) }),
});
