/**
 * The operations behind validate_syntax (does every file parse) and scan_antipatterns (the
 * anti-pattern rules, with their safe fixes applied on request), over the analysis in ./analyze.ts.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BackupWriter, DEFAULT_KEEP } from "../backup/store.js";
import { UserError } from "../errors.js";
import { operation, quietHooks } from "../hooks.js";
import {
  analyzeFlake,
  countBySeverity,
  findingSchema,
  fixSource,
  limitInput,
  skippedSchema,
} from "./analyze.js";
import { type FileScope, Pacer } from "./files.js";
import { ANTIPATTERN_CODES } from "./rules/index.js";
import { SourceText } from "./source.js";

/** How many findings validate_syntax and scan_antipatterns list unless told. */
const DEFAULT_LIMIT = 10;

// ---------------------------------------------------------------- validate_syntax

export const validateSyntaxInput = { limit: limitInput(DEFAULT_LIMIT) };

export const validateSyntaxResultSchema = z.object({
  flake: z.string(),
  filesChecked: z.number().int(),
  filesWithErrors: z.number().int(),
  errorCount: z.number().int(),
  errors: z.array(findingSchema).describe("the first errors, each with file:line:column and the source line"),
  skipped: z
    .array(skippedSchema)
    .describe("files not read (binary, too large, links leading out of the flake)"),
  summary: z.string(),
});
export type ValidateSyntaxResult = z.infer<typeof validateSyntaxResultSchema>;

/** validate_syntax's input: which files (the scope), and how many errors to list. */
export type ValidateSyntaxInput = FileScope & { flake?: string; limit?: number };

export const validateSyntax = operation<ValidateSyntaxInput, ValidateSyntaxResult>(
  async (engine, input, hooks) => {
    const collected = await analyzeFlake(engine, input, { ruleSet: "none" }, hooks);
    const errors = collected.analyses.flatMap((a) => a.syntaxErrors.map(({ fix: _fix, ...e }) => e));
    const filesWithErrors = collected.analyses.filter((a) => a.syntaxErrors.length > 0).length;
    const first = errors[0];
    return {
      flake: collected.root,
      filesChecked: collected.analyses.length,
      filesWithErrors,
      errorCount: errors.length,
      errors: errors.slice(0, input.limit ?? DEFAULT_LIMIT),
      skipped: collected.skipped,
      summary:
        errors.length === 0
          ? `${collected.analyses.length} files parse${collected.skipped.length ? `, ${collected.skipped.length} skipped` : ""}`
          : `${errors.length} syntax errors in ${filesWithErrors} of ${collected.analyses.length} files; first: ${first?.file}:${first?.line}:${first?.column}: ${first?.message}`,
    };
  },
);

// ---------------------------------------------------------------- scan_antipatterns

export const scanInput = {
  rules: z.array(z.string()).optional().describe("only these rule codes (default: all)"),
  fix: z
    .boolean()
    .optional()
    .describe("apply the safe auto-fixes to the files (a backup of each is kept); default false"),
  limit: limitInput(DEFAULT_LIMIT),
};

export const scanResultSchema = z.object({
  flake: z.string(),
  filesScanned: z.number().int(),
  counts: z.object({ block: z.number().int(), warn: z.number().int(), fixable: z.number().int() }),
  byCode: z.record(z.string(), z.number().int()),
  findings: z.array(findingSchema).describe("the first findings, blocking ones first"),
  skipped: z.array(skippedSchema),
  fixed: z
    .array(z.object({ file: z.string(), fixes: z.number().int(), backup: z.string() }))
    .optional()
    .describe("files rewritten by `fix: true`, with where the original was saved"),
  summary: z.string(),
});
export type ScanResult = z.infer<typeof scanResultSchema>;

/** scan_antipatterns's input: which files, which rules, whether to fix, how many findings to list. */
export type ScanInput = FileScope & { flake?: string; rules?: string[]; fix?: boolean; limit?: number };

export const scanAntipatterns = operation<ScanInput, ScanResult>(async (engine, input, hooks) => {
  const unknown = (input.rules ?? []).filter((c) => !ANTIPATTERN_CODES.includes(c));
  if (unknown.length > 0)
    throw new UserError(
      `unknown rule codes: ${unknown.join(", ")}`,
      `use codes from: ${ANTIPATTERN_CODES.join(", ")}`,
    );
  const only = input.rules ? new Set(input.rules) : undefined;
  const disabled = only ? new Set(ANTIPATTERN_CODES.filter((c) => !only.has(c))) : undefined;
  let collected = await analyzeFlake(engine, input, { disabled }, hooks);

  let fixed: ScanResult["fixed"];
  if (input.fix) {
    fixed = [];
    // One backup in the store for the scan's fixes, private like the rest of the state (0700, files
    // 0600), since a file of the flake may hold a secret.
    let backups: BackupWriter | undefined;
    // Between files a cancellation stops the fixing; the files fixed by then keep their backups.
    const pacer = new Pacer(hooks.signal);
    try {
      for (const analysis of collected.analyses) {
        if (!analysis.findings.some((f) => f.fix)) continue;
        await pacer.step();
        // Read again through the flake's files: what the analysis read may have changed since.
        const read = collected.files.read(analysis.file);
        if ("skipped" in read) continue;
        const result = fixSource(analysis.file, new SourceText(read.bytes), {
          disabled: new Set([...(disabled ?? []), ...collected.config.disable]),
          inFlake: existsSync(join(collected.root, "flake.nix")),
        });
        if (result.fixed === 0) continue;
        backups ??= new BackupWriter(engine.env, {
          source: collected.root,
          kind: "scan-fix",
          reason: "scan_antipatterns fix: true",
        });
        // The backup holds the bytes read, not a copy made by path (which would follow a link).
        const backup = backups.add(analysis.file, read.bytes, read.stats.mode & 0o7777);
        collected.files.replace(read, result.source.bytes);
        fixed.push({ file: analysis.file, fixes: result.fixed, backup });
      }
    } finally {
      backups?.finish(DEFAULT_KEEP);
    }
    // Counted once: progress that went back to 0 for this second pass would confuse a client.
    if (fixed.length > 0)
      collected = await analyzeFlake(engine, input, { disabled }, quietHooks({ signal: hooks.signal }));
  }

  const all = collected.analyses.flatMap((a) => [...a.syntaxErrors, ...a.findings]);
  const byCode: Record<string, number> = {};
  for (const f of all) byCode[f.code] = (byCode[f.code] ?? 0) + 1;
  const { block, ordered } = countBySeverity(all);
  const fixable = all.filter((f) => f.fix).length;
  const top = Object.entries(byCode)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
  return {
    flake: collected.root,
    filesScanned: collected.analyses.length,
    counts: { block, warn: all.length - block, fixable },
    byCode,
    findings: ordered.slice(0, input.limit ?? DEFAULT_LIMIT),
    skipped: collected.skipped,
    ...(fixed ? { fixed } : {}),
    summary:
      all.length === 0
        ? `${collected.analyses.length} files, no findings${fixed?.length ? ` after fixing ${fixed.length} files` : ""}`
        : `${block} blocking and ${all.length - block} warnings in ${collected.analyses.length} files (${top})` +
          (fixed
            ? `; fixed ${fixed.reduce((n, f) => n + f.fixes, 0)} in ${fixed.length} files`
            : fixable
              ? `; ${fixable} auto-fixable (fix: true)`
              : ""),
  };
});
