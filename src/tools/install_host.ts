import { installHostOptionsSchema, installHostResultSchema } from "../engine/onboard/install.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "install_host",
  title: "Install a host",
  description:
    "Installs a host on a fresh machine with nixos-anywhere after checks (arch, memory, disk by id, disko layout). " +
    "dryRun (default) plans; to install, the user types the disk id when asked. Records a new host key in known_hosts.",
  input: { ...installHostOptionsSchema.shape, ...baseInput },
  output: installHostResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/onboard/install.js")).installHost,
});
