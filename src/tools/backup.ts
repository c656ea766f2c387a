import { backupInput, backupResultSchema } from "../engine/backup/operations.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "backup",
  title: "Back up configuration files",
  description:
    "Backs up the flake's files (or a directory of it) under the XDG state directory with a manifest " +
    "(size, sha256, reason), keeping the newest `keep`; list: true lists this flake's backups.",
  input: { ...backupInput, ...baseInput },
  output: backupResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  operation: async () => (await import("../engine/backup/operations.js")).backup,
});
