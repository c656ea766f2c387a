import { restore, restoreInput, restoreResultSchema } from "../engine/backup/operations.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "restore",
  title: "Restore backed-up files",
  description:
    "Puts a backup of this flake back byte for byte (latest or by id), after checking every copy against the " +
    "manifest: a damaged one is named and nothing is written.",
  input: { ...restoreInput, flake: flakeInput },
  output: restoreResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  run: (engine, input) => restore(engine, input),
});
