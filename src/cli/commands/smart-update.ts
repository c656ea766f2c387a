import smartUpdateTool from "../../tools/smart_update.js";
import { command, EXIT, flag } from "../command.js";
import { deploymentLines, UPDATE_OPTIONS, updateInput, updateLines } from "../update-options.js";

export default command({
  name: "smart-update",
  synopsis: "smart-update [HOSTS...|@tag|--all] [--input NAME]... [--since DATE] [--refresh] [--commit ...]",
  summary: "the update only when it is safe: preview, build, known nixpkgs issues, one verdict",
  options: {
    ...UPDATE_OPTIONS,
    since: {
      type: "string",
      value: "DATE",
      description: "issues updated since (default: the locked nixpkgs' date)",
      field: "since",
    },
    refresh: {
      type: "boolean",
      description: "ask GitHub again instead of using cached answers",
      field: "refresh",
    },
  },
  positionals: "hosts",
  tool: smartUpdateTool,
  // A confirm verdict asks on the terminal while the tool runs; --yes answers it.
  input: (values, positionals) => ({
    ...updateInput(values, positionals),
    since: values.since,
    refresh: flag(values.refresh),
    confirm: flag(values.yes),
  }),
  exitCode: (result) =>
    result.status === "updated" || result.status === "up-to-date"
      ? EXIT.ok
      : result.status === "blocked"
        ? EXIT.blocked
        : result.status === "declined" || result.status === "needs-confirmation"
          ? EXIT.interrupted
          : EXIT.failed,
  render: (result) => [
    ...updateLines(result),
    `verdict: ${result.verdict.verdict}`,
    ...result.verdict.reasons.map((r) => `  ${r}`),
    ...result.verdict.suggestions.flatMap((s) => [`suggestion: ${s.title} (${s.file})`, s.nix]),
    ...deploymentLines(result.deployment),
    result.summary,
    `next: ${result.next}`,
  ],
});
