import backupTool from "../../tools/backup.js";
import { command, EXIT, flag, numberOption, UsageError } from "../command.js";

export default command({
  name: "backup",
  synopsis: "backup [PATH] [--reason TEXT] [--keep N] | backup --list",
  summary: "back up the flake's files (or a directory of it) under the state directory, with a manifest",
  options: {
    reason: { type: "string", value: "TEXT", description: "why, kept in the manifest", field: "reason" },
    keep: {
      type: "string",
      value: "N",
      description: "backups of this flake to keep (default 10)",
      field: "keep",
    },
    list: { type: "boolean", description: "only list this flake's backups", field: "list" },
  },
  tool: backupTool,
  input: (values, positionals) => {
    if (positionals.length > 1)
      throw new UsageError("backup takes one path", "e.g. nix-deploy backup hosts/p620");
    return {
      path: positionals[0],
      reason: values.reason,
      keep: numberOption(values.keep),
      list: flag(values.list),
    };
  },
  exitCode: () => EXIT.ok,
  render: (result) => [
    ...(result.directory ? [`backup ${result.backup?.id} in ${result.directory}`] : []),
    ...result.skipped.map((s) => `skipped ${s.path}: ${s.reason}`),
    ...result.backups.map(
      (b) => `${b.id}  ${b.kind.padEnd(9)} ${String(b.files).padStart(4)} files  ${b.reason}`,
    ),
    ...result.damaged.map((d) => `DAMAGED ${d.id}: ${d.problem}`),
    result.summary,
  ],
});
