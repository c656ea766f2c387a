import { uploadKeys, uploadKeysOptionsSchema, uploadKeysResultSchema } from "../engine/keys/operation.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "upload_keys",
  title: "Upload keys",
  description:
    "Uploads the inventory's keys (secrets kept out of the Nix store) to hosts now, for rotation; deploy uploads them itself.",
  input: { ...uploadKeysOptionsSchema.shape, flake: flakeInput },
  output: uploadKeysResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  run: (engine, input, context) =>
    uploadKeys(engine, input, { signal: context.signal, progress: (m) => void context.progress(m) }),
});
