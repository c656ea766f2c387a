import validateSyntaxTool from "../../tools/validate_syntax.js";
import { command, EXIT, noPositionals } from "../command.js";
import { ruleFindingLines, SCOPE_OPTIONS, scopeInput, skippedLines } from "../scope.js";

export default command({
  name: "validate",
  synopsis: "validate [--changed] [--since REF] [--limit N]",
  summary: "parse every .nix file of the flake: each syntax error as file:line:column",
  options: SCOPE_OPTIONS,
  tool: validateSyntaxTool,
  input: (values, positionals) => {
    noPositionals("validate", positionals);
    return scopeInput(values);
  },
  exitCode: (result) => (result.errorCount > 0 ? EXIT.blocked : EXIT.ok),
  render: (result) => [
    ...result.errors.flatMap(ruleFindingLines),
    ...skippedLines(result.skipped),
    result.summary,
  ],
});
