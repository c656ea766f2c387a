import { baseInput } from "../engine/schemas.js";
import { previewOptionsSchema, previewResultSchema } from "../engine/updates/preview.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "preview_updates",
  title: "Preview updates",
  description:
    "Shows what a flake update would change, without changing anything: updates the lock (all inputs or the named ones) " +
    "in a scratch copy of the flake, builds each host with the current and the new lock, and returns per host the " +
    "package changes (old → new), added and removed packages, the closure size delta, and the inputs whose revision moved. " +
    "evalOnly compares derivations without building.",
  input: { ...previewOptionsSchema.shape, ...baseInput },
  output: previewResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/updates/preview.js")).previewUpdates,
});
