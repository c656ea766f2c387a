import { installHost, installHostOptionsSchema, installHostResultSchema } from "../engine/onboard/install.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "install_host",
  title: "Install a host",
  description:
    "Installs NixOS from the flake on a fresh machine booted into an installer (or any Linux, via kexec) with " +
    "nixos-anywhere: checks architecture, memory (>= 1.5 GiB), the disk by /dev/disk/by-id and the disko layout first. " +
    "dryRun (the default) only plans. To install, the user must type the disk id back when asked; the machine's ssh " +
    "host key is generated here and recorded in the inventory's known_hosts, so the first deploy verifies it. " +
    "Without nixos-anywhere installed, shows the exact command.",
  input: { ...installHostOptionsSchema.shape, flake: flakeInput },
  output: installHostResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  run: (engine, input, context) =>
    installHost(engine, input, {
      signal: context.signal,
      progress: (m) => void context.progress(m),
      ask: context.ask,
    }),
});
