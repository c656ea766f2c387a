import { backup, backupInput, backupResultSchema } from "../engine/backup/operations.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "backup",
  title: "Back up configuration files",
  description:
    "Backs up the flake's files (or a directory of it) under the XDG state directory with a manifest " +
    "(size, sha256, reason), keeping the newest `keep`; list: true lists this flake's backups.",
  input: { ...backupInput, flake: flakeInput },
  output: backupResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: (engine, input) => backup(engine, input),
});
