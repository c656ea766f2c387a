import { rollbackOptionsSchema, rollbackResultSchema } from "../engine/deploy/rollback.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "rollback",
  title: "Roll back",
  description:
    "Returns hosts to an earlier generation (the previous one by default, or the given number), activated under " +
    "magic rollback and checked like a deploy. host_status lists the generations.",
  input: { ...rollbackOptionsSchema.shape, ...baseInput },
  output: rollbackResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/deploy/rollback.js")).rollback,
});
