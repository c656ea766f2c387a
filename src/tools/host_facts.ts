import { hostFacts, hostFactsOptionsSchema, hostFactsResultSchema } from "../engine/onboard/facts.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "host_facts",
  title: "Host facts",
  description:
    "Reads what machines are, without changing them: NixOS or installer, Nix system, CPU, memory, disks by id, " +
    "EFI or BIOS, GPU vendor and driver state, Nix version, system and home-manager generations, free space in /nix, " +
    "whether the binary cache answers; each fact with its source. Hosts by name, @tag or all (in parallel), or " +
    "local: true for this machine. A host's nixos-facter report is saved as hosts/<name>/facter.json in the flake.",
  input: { ...hostFactsOptionsSchema.shape, flake: flakeInput },
  output: hostFactsResultSchema,
  // It writes only the facter report into the flake; the hosts are only read.
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  run: (engine, input, context) =>
    hostFacts(engine, input, { signal: context.signal, progress: (m) => void context.progress(m) }),
});
