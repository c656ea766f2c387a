import { restoreInput, restoreResultSchema } from "../engine/backup/operations.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "restore",
  title: "Restore backed-up files",
  description:
    "Puts a backup of this flake back byte for byte (latest or by id), after checking every copy against the " +
    "manifest: a damaged one is named and nothing is written.",
  input: { ...restoreInput, ...baseInput },
  output: restoreResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  operation: async () => (await import("../engine/backup/operations.js")).restore,
});
