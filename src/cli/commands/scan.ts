import scanAntipatternsTool from "../../tools/scan_antipatterns.js";
import { command, EXIT, flag, noPositionals } from "../command.js";
import { ruleFindingLines, SCOPE_OPTIONS, scopeInput, skippedLines } from "../scope.js";

export default command({
  name: "scan",
  synopsis: "scan [--rule CODE]... [--fix] [--changed] [--since REF] [--limit N]",
  summary: "lint for Nix anti-patterns and NixOS mistakes; --fix applies the safe fixes (with backups)",
  options: {
    ...SCOPE_OPTIONS,
    rule: {
      type: "string",
      multiple: true,
      value: "CODE",
      description: "only this rule (repeatable)",
      field: "rules",
    },
    fix: { type: "boolean", description: "apply the safe auto-fixes; originals are backed up", field: "fix" },
  },
  tool: scanAntipatternsTool,
  input: (values, positionals) => {
    noPositionals("scan", positionals);
    return { ...scopeInput(values), rules: values.rule, fix: flag(values.fix) };
  },
  confirm: (input) =>
    input.fix ? "Rewrite the files with the safe fixes (originals are backed up)?" : undefined,
  exitCode: (result) => (result.counts.block > 0 ? EXIT.blocked : EXIT.ok),
  render: (result) => [
    ...result.findings.flatMap(ruleFindingLines),
    ...(result.fixed ?? []).map((f) => `fixed ${f.file} (${f.fixes} fix(es)); original in ${f.backup}`),
    ...skippedLines(result.skipped),
    result.summary,
  ],
});
