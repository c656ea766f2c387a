import checkNixpkgsIssuesTool from "../../tools/check_nixpkgs_issues.js";
import { command, EXIT, flag, UsageError } from "../command.js";

export default command({
  name: "issues",
  synopsis: "issues PKG[@OLD..NEW]... [--since DATE] [--new-lock-date DATE] [--refresh]",
  summary: "known NixOS/nixpkgs issues for the packages an update changes, with a verdict",
  options: {
    since: {
      type: "string",
      value: "DATE",
      description: "issues updated since (default: the locked nixpkgs' date)",
      field: "since",
    },
    "new-lock-date": {
      type: "string",
      value: "DATE",
      description: "issues closed before it count as fixed",
      field: "newLockDate",
    },
    refresh: {
      type: "boolean",
      description: "ask GitHub again instead of using cached answers",
      field: "refresh",
    },
  },
  tool: checkNixpkgsIssuesTool,
  input: (values, positionals) => {
    if (!positionals.length)
      throw new UsageError("no packages given", "e.g. nix-deploy issues firefox systemd@254.5..254.6");
    return {
      // `systemd@254.5..254.6` is the package with the versions it changes between.
      packages: positionals.map((p) => {
        const [name, versions] = p.split("@", 2);
        if (versions === undefined) return p;
        const [oldVersion, newVersion] = versions.split("..", 2);
        return { name, oldVersion: oldVersion || undefined, newVersion: newVersion || undefined };
      }),
      since: values.since,
      newLockDate: values["new-lock-date"],
      refresh: flag(values.refresh),
    };
  },
  exitCode: (result) => (result.verdict.verdict === "block" ? EXIT.blocked : EXIT.ok),
  render: (result) => [
    ...(["critical", "high", "medium"] as const).flatMap((severity) =>
      result.matches[severity].map(
        (m) =>
          `${severity.padEnd(8)} | #${m.number} ${m.title} (${m.package}${m.fixed ? ", fixed in the new lock" : ""}) ${m.url}`,
      ),
    ),
    `searched issues since ${result.since} (${result.sinceFrom}); ${result.status}${result.reason ? `: ${result.reason}` : ""}`,
    `verdict: ${result.verdict.verdict}`,
    ...result.verdict.reasons.map((r) => `  ${r}`),
    ...result.verdict.suggestions.flatMap((s) => [`suggestion: ${s.title} (${s.file})`, s.nix]),
    `next: ${result.next}`,
  ],
});
