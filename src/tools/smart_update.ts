import { baseInput } from "../engine/schemas.js";
import { smartUpdateOptionsSchema, smartUpdateResultSchema } from "../engine/updates/smart.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "smart_update",
  title: "Smart update",
  description:
    "Updates the flake's inputs only when it is safe: previews and builds the new lock and evaluates every host in parallel, " +
    "checks NixOS/nixpkgs issues for exactly the packages that change, and combines them into one verdict. " +
    "proceed: updates and deploys; confirm: asks the user (or needs confirm: true when the client cannot ask); " +
    "block (critical issue, failed build or evaluation): never touches flake.lock and suggests the Nix to pin.",
  input: { ...smartUpdateOptionsSchema.shape, ...baseInput },
  output: smartUpdateResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/updates/smart.js")).smartUpdate,
});
