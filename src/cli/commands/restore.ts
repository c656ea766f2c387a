import restoreTool from "../../tools/restore.js";
import { command, EXIT, UsageError } from "../command.js";

export default command({
  name: "restore",
  synopsis: "restore [latest|BACKUP]",
  summary: "put a backup of the flake's files back byte for byte (what it replaces is backed up first)",
  options: {},
  tool: restoreTool,
  input: (_values, positionals) => {
    if (positionals.length > 1)
      throw new UsageError("restore takes one backup id or latest", "nix-deploy backup --list lists them");
    return { backup: positionals[0] };
  },
  confirm: (input) => `Restore the flake's files from ${input.backup ?? "the latest backup"}?`,
  exitCode: () => EXIT.ok,
  render: (result) => [
    ...result.files.map((f) => `restored ${f}`),
    ...result.removed.map((f) => `removed ${f}`),
    result.summary,
  ],
});
