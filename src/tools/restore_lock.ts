import { baseInput } from "../engine/schemas.js";
import { restoreLockOptionsSchema, restoreLockResultSchema } from "../engine/updates/update.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "restore_lock",
  title: "Restore a backed-up flake.lock",
  description:
    "Puts back a flake.lock that update backed up (the latest by default, or a backup id), backing up the lock it replaces, " +
    "and with redeploy: true deploys it, returning the hosts to the systems of the earlier lock.",
  input: { ...restoreLockOptionsSchema.shape, ...baseInput },
  output: restoreLockResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/updates/update.js")).restoreLock,
});
