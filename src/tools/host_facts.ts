import { hostFactsOptionsSchema, hostFactsResultSchema } from "../engine/onboard/facts.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "host_facts",
  title: "Host facts",
  description:
    "Machines' facts, each with its source: NixOS/installer, system, CPU, memory, disks by id, EFI/BIOS, GPU and " +
    "driver, Nix, generations, /nix space, binary cache. Saves a nixos-facter report as hosts/NAME/facter.json.",
  input: { ...hostFactsOptionsSchema.shape, ...baseInput },
  output: hostFactsResultSchema,
  // It writes only the facter report into the flake; the hosts are only read.
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/onboard/facts.js")).hostFacts,
});
