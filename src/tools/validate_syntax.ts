import { scopeInput } from "../engine/analysis/files.js";
import { validateSyntaxInput, validateSyntaxResultSchema } from "../engine/analysis/scan.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "validate_syntax",
  title: "Validate Nix syntax",
  description:
    "Parses every .nix file of the flake (what git would commit; .gitignore respected) in one pass and lists " +
    "each syntax error as file:line:column with the source line, agreeing with `nix-instantiate --parse`. " +
    "Binary or huge files are skipped with a note. Use `changed`/`since` to check only changed files.",
  input: { ...baseInput, ...scopeInput, ...validateSyntaxInput },
  output: validateSyntaxResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  operation: async () => (await import("../engine/analysis/scan.js")).validateSyntax,
});
