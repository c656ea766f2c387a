import { addHostResultSchema } from "../engine/onboard/add-host.js";
import { addHostInput } from "../engine/onboard/input.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "add_host",
  title: "Add a host to the flake",
  description:
    "A new host in the flake from templates and host_facts' facts: host modules (boot loader, GPU driver, ssh), " +
    "disko layout, nixosConfigurations and inventory entries, optional home.nix and services. Dry run by default " +
    "(diff and checks); dryRun: false backs up, writes, evaluates and audits, or restores the backup.",
  input: { ...addHostInput, ...baseInput },
  output: addHostResultSchema,
  // Open world: evaluating the flake makes Nix fetch any input that is not in the store yet.
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/onboard/add-host.js")).addHost,
});
