import addHostTool from "../../tools/add_host.js";
import { command, EXIT, numberOption, UsageError } from "../command.js";

export default command({
  name: "add-host",
  synopsis:
    "add-host NAME --system SYSTEM --boot efi|bios --gpu VENDOR --disk /dev/disk/by-id/ID [--user U] [--service S]... [--dry-run]",
  summary:
    "add a host to the flake from templates and its machine facts (diff shown; evaluated, or restored)",
  options: {
    system: {
      type: "string",
      value: "SYSTEM",
      description: "x86_64-linux or aarch64-linux",
      field: "system",
      complete: ["x86_64-linux", "aarch64-linux"],
    },
    boot: {
      type: "string",
      value: "FIRMWARE",
      description: "efi or bios",
      field: "boot",
      complete: ["efi", "bios"],
    },
    gpu: {
      type: "string",
      value: "VENDOR",
      description: "nvidia, amd, intel or none",
      field: "gpu",
      complete: ["nvidia", "amd", "intel", "none"],
    },
    disk: { type: "string", value: "ID", description: "the disk as /dev/disk/by-id/...", field: "disk" },
    "facter-report": {
      type: "string",
      value: "FILE",
      description: "a nixos-facter report inside the flake",
      field: "facterReport",
    },
    target: {
      type: "string",
      value: "ADDRESS",
      description: "ssh address (user@host) for the inventory",
      field: "target",
    },
    port: { type: "string", value: "N", description: "ssh port for the inventory", field: "port" },
    tag: {
      type: "string",
      multiple: true,
      value: "TAG",
      description: "an inventory tag (repeatable)",
      field: "tags",
    },
    user: {
      type: "string",
      value: "USER",
      description: "a user with a home-manager home.nix",
      field: "user",
    },
    service: {
      type: "string",
      multiple: true,
      value: "SERVICE",
      description:
        "turn on postgresql, redis, nginx, prometheus, grafana, fail2ban or autoUpgrade (repeatable)",
      field: "services",
      complete: ["postgresql", "redis", "nginx", "prometheus", "grafana", "fail2ban", "autoUpgrade"],
    },
    "dry-run": { type: "boolean", description: "only show the diff and the checks", field: "dryRun" },
  },
  tool: addHostTool,
  input: (values, positionals) => {
    if (positionals.length !== 1)
      throw new UsageError(
        "add-host takes the new host's name",
        "e.g. nix-deploy add-host newbox --system x86_64-linux ...",
      );
    return {
      name: positionals[0],
      system: values.system,
      boot: values.boot,
      gpu: values.gpu,
      disk: values.disk,
      facterReport: values["facter-report"],
      target: values.target,
      port: numberOption(values.port),
      tags: values.tag,
      user: values.user,
      services: values.service,
      // A person at a terminal is asked before writing (--yes skips it); the assistant's default is a dry run.
      dryRun: values["dry-run"] === true,
    };
  },
  confirm: (input) =>
    input.dryRun
      ? undefined
      : `Write host ${input.name} into the flake (backed up first, restored if it fails)?`,
  exitCode: (result) => (result.status === "rolled-back" ? EXIT.failed : EXIT.ok),
  render: (result) => [
    ...result.files.map((f) => f.diff.trimEnd()),
    ...result.checks.map((c) => `${c.ok ? "ok  " : "FAIL"} ${c.check}: ${c.detail}`),
    ...result.notes.map((n) => `note: ${n}`),
    ...(result.error ? [`error: ${result.error}`] : []),
    result.summary,
    `next: ${result.next}`,
  ],
});
