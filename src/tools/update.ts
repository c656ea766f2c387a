import { baseInput } from "../engine/schemas.js";
import { updateOptionsSchema, updateResultSchema } from "../engine/updates/update.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "update",
  title: "Update flake inputs and deploy",
  description:
    "Updates the flake's inputs (all or the named ones) and deploys: previews and builds the new lock in a scratch copy, " +
    "backs up flake.lock (restore_lock puts it back), writes the new lock, deploys it under magic rollback with health checks, " +
    "and optionally commits flake.lock referencing an issue, pushes and opens a pull request. " +
    "For an update vetted against known nixpkgs issues first, use smart_update.",
  input: { ...updateOptionsSchema.shape, ...baseInput },
  output: updateResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/updates/update.js")).update,
});
