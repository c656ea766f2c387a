/**
 * The engine speaks to the assistant in MCP's words: tool names (`host_status`) and input fields
 * (`dryRun`, `resume: "ID"`). A person at a terminal types commands and flags, so every message the
 * CLI shows is put into its words, from the command table itself: a tool's name becomes its command,
 * a field becomes the flag that fills it. A word with no CLI counterpart is left as it is.
 */
import { type AnyCommand, GLOBAL_OPTIONS } from "./command.js";

interface Translation {
  pattern: RegExp;
  replace(match: string, ...groups: string[]): string;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function cliVocabulary(commands: readonly AnyCommand[]): (text: string) => string {
  const translations: Translation[] = [];
  const fieldFlags = new Map<string, { flag: string; boolean: boolean }>();
  for (const options of [GLOBAL_OPTIONS, ...commands.map((c) => c.options)])
    for (const [name, spec] of Object.entries(options))
      if (spec.field && !fieldFlags.has(spec.field))
        fieldFlags.set(spec.field, { flag: `--${name}`, boolean: spec.type === "boolean" });
  for (const [field, { flag, boolean }] of fieldFlags) {
    // `resume: "ID"` → `--resume ID`, `fix: true` → `--fix`, `redeploy: true` → `--redeploy`. A
    // bare field is translated only when camelCase (`dryRun` → `--dry-run`): plain words such as
    // "mode" or "hosts" are English in a sentence. Field names are identifiers: patterns are linear.
    // A field after '.' is an inventory path (`hosts.a.cache: ...`), not the tool's input.
    const value = '("[^"\\n]{0,200}"|true|false|[A-Za-z0-9_.-]{1,200})';
    translations.push({
      pattern: new RegExp(
        `(?<![A-Za-z0-9_.])${escape(field)}(?:: ?${value})${/[A-Z]/.test(field) ? "?" : ""}(?![A-Za-z0-9_])`,
        "g",
      ),
      replace: (_match, value) => {
        if (value === undefined || value === "true") return flag;
        if (value === "false") return boolean ? `no ${flag}` : flag;
        return `${flag} ${value.replace(/^"|"$/g, "")}`;
      },
    });
  }
  // Only tool names that cannot be English words (`host_status`, not `deploy`).
  const toolCommands = new Map(
    commands.filter((c) => c.tool.name.includes("_")).map((c) => [c.tool.name, c.name]),
  );
  for (const [tool, name] of toolCommands)
    translations.push({
      pattern: new RegExp(`(?<![A-Za-z0-9_/-])${escape(tool)}(?![A-Za-z0-9_])`, "g"),
      replace: () => `nix-deploy ${name}`,
    });
  return (text) => {
    let out = text;
    for (const t of translations) out = out.replace(t.pattern, t.replace);
    return out;
  };
}
