import { uploadKeysOptionsSchema, uploadKeysResultSchema } from "../engine/keys/schemas.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "upload_keys",
  title: "Upload keys",
  description:
    "Uploads the inventory's keys (secrets kept out of the Nix store) to hosts now, for rotation; deploy uploads them itself.",
  input: { ...uploadKeysOptionsSchema.shape, ...baseInput },
  output: uploadKeysResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/keys/operation.js")).uploadKeys,
});
