import installHostTool from "../../tools/install_host.js";
import { command, EXIT, numberOption, UsageError } from "../command.js";
import { checkLine, width } from "../format.js";

export default command({
  name: "install-host",
  synopsis: "install-host HOST --disk ID [--target USER@ADDRESS] [--port N] [--dry-run]",
  summary: "install NixOS on a fresh machine with nixos-anywhere, after you type the disk id back",
  options: {
    disk: {
      type: "string",
      value: "ID",
      description: "the disk to erase, by its /dev/disk/by-id name (nix-deploy facts lists them)",
      field: "disk",
    },
    target: {
      type: "string",
      value: "USER@ADDRESS",
      description: "where the installer answers (default: the inventory's target)",
      field: "target",
    },
    port: { type: "string", value: "N", description: "the installer's ssh port", field: "port" },
    "dry-run": { type: "boolean", description: "check and show the plan only", field: "dryRun" },
  },
  positionals: "hosts",
  tool: installHostTool,
  // The question is asked while the tool runs, after the checks: the disk id is typed, never --yes.
  input: (values, positionals) => {
    if (positionals.length !== 1)
      throw new UsageError(
        "install-host takes one host name",
        "e.g. nix-deploy install-host fresh --disk nvme-...",
      );
    return {
      host: positionals[0],
      disk: values.disk,
      target: values.target,
      port: numberOption(values.port),
      dryRun: Boolean(values["dry-run"]),
    };
  },
  exitCode: (result) =>
    result.status === "installed" || result.status === "planned" || result.status === "command-shown"
      ? EXIT.ok
      : result.status === "refused"
        ? EXIT.blocked
        : result.status === "declined"
          ? EXIT.interrupted
          : EXIT.failed,
  render: (result) => {
    const w = width([{ host: result.host }]);
    return [
      ...result.checks.map((c) => checkLine(result.host, { ...c, check: c.check }, w)),
      `phases: ${result.phases.join(", ")}`,
      `command: ${result.command}`,
      ...(result.hostKey ? [`host key: ${result.hostKey} (recorded in ${result.knownHostsFile})`] : []),
      ...(result.output ?? []).map((l) => `  ${l}`),
      result.summary,
      `next: ${result.next}`,
    ];
  },
});
