/**
 * Syntax validation and the anti-pattern scan over a flake's .nix files, in this process: each file
 * is read once, parsed once, and every rule runs over the same tree.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { BackupWriter, DEFAULT_KEEP } from "../backup/store.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { servedFlake } from "../trust.js";
import { type FileScope, FlakeFiles, listNixFiles, loadScanConfig, Pacer, type ScanConfig } from "./files.js";
import { type Edit, indexNodes, type RawFinding, type Rule, type Severity } from "./rule.js";
import { ANTIPATTERN_CODES, ANTIPATTERN_RULES } from "./rules.js";
import { SECURITY_RULES } from "./security.js";
import { checkSyntax, SourceText } from "./source.js";
import { NodeIndex } from "./syntax.js";

export const editSchema = z.object({
  start: z.number().int().describe("byte offset where the replaced text starts"),
  end: z.number().int().describe("byte offset just after it"),
  replacement: z.string(),
});

export const findingSchema = z.object({
  code: z.string().describe("stable rule code; `# nix-deploy: allow CODE` on the line before silences it"),
  severity: z.enum(["block", "warn"]).describe("block stops a deployment; warn does not"),
  file: z.string().describe("path relative to the flake"),
  line: z.number().int(),
  column: z.number().int().describe("1-based byte column, as Nix prints it"),
  offset: z.number().int().describe("0-based byte offset"),
  message: z.string().describe("what is wrong and what to write instead"),
  source: z.string().optional().describe("the source line"),
  fix: z.array(editSchema).optional().describe("an auto-fix as byte-range edits of the file"),
});
export type Finding = z.infer<typeof findingSchema>;

export const skippedSchema = z
  .object({ file: z.string(), reason: z.string() })
  .describe("a file not read, and why (binary, too large, a link leading out of the flake)");

/** One file's results. Its text is not kept: a scan of a large flake holds findings, not sources. */
export interface FileAnalysis {
  file: string;
  syntaxErrors: Finding[];
  findings: Finding[];
  skipped?: string;
}

const SUPPRESSION = /#\s*nix-deploy:\s*allow\s+([a-z0-9_,\s-]+)/i;

/**
 * The codes `# nix-deploy: allow ...` on the line before `line` silences. Read once per line: many
 * findings on one long line must not read the line before it once each.
 */
function suppressedCodes(source: SourceText, line: number, seen: Map<number, Set<string>>): Set<string> {
  let codes = seen.get(line);
  if (codes === undefined) {
    const match = line < 2 ? null : SUPPRESSION.exec(source.lineText(line - 1, 10_000));
    codes = new Set(match ? (match[1] as string).split(/[\s,]+/).filter(Boolean) : []);
    seen.set(line, codes);
  }
  return codes;
}

export function toFinding(
  source: SourceText,
  file: string,
  raw: { code: string; severity: Severity; message: string; start: number; fix?: Edit[] },
): Finding {
  const at = source.position(raw.start);
  return {
    code: raw.code,
    severity: raw.severity,
    file,
    line: at.line,
    column: at.column,
    offset: at.offset,
    message: raw.message,
    source: source.lineText(at.line),
    ...(raw.fix ? { fix: raw.fix } : {}),
  };
}

export interface AnalyzeOptions {
  /** Which rule set runs; a name, so that a worker thread can run the same set. */
  ruleSet?: RuleSet;
  rules?: readonly Rule[];
  disabled?: ReadonlySet<string>;
  inFlake?: boolean;
}

/** One file: its syntax errors, or (when it parses) the findings of every rule not disabled or suppressed. */
export function analyzeSource(file: string, source: SourceText, options: AnalyzeOptions = {}): FileAnalysis {
  const rules = options.rules ?? rulesOf(options.ruleSet);
  // Only rules read the node index; a syntax check alone does not pay for it.
  const index = rules.length > 0 ? new NodeIndex() : undefined;
  const checked = checkSyntax(source, index);
  const syntaxErrors = checked.errors.map((e) =>
    toFinding(source, file, { code: "syntax-error", severity: "block", message: e.message, start: e.offset }),
  );
  const findings: Finding[] = [];
  if (index && syntaxErrors.length === 0 && checked.ast && checked.resolution) {
    const raws: RawFinding[] = [];
    const ctx = {
      source,
      ast: checked.ast,
      resolution: checked.resolution,
      inFlake: options.inFlake ?? true,
      report: (f: RawFinding) => raws.push(f),
      ...indexNodes(source.text, index),
    };
    for (const rule of rules) rule.check(ctx);
    raws.sort((a, b) => a.start - b.start || a.code.localeCompare(b.code));
    const suppressions = new Map<number, Set<string>>();
    for (const raw of raws) {
      if (options.disabled?.has(raw.code)) continue;
      const finding = toFinding(source, file, raw);
      const allowed = suppressedCodes(source, finding.line, suppressions);
      if (allowed.has(raw.code) || allowed.has("all")) continue;
      findings.push(finding);
    }
  }
  return { file, syntaxErrors, findings };
}

export type RuleSet = "antipatterns" | "security" | "none";

function rulesOf(ruleSet: RuleSet = "antipatterns"): readonly Rule[] {
  return ruleSet === "antipatterns" ? ANTIPATTERN_RULES : ruleSet === "security" ? SECURITY_RULES : [];
}

const TOO_DEEP = /^expression nested too deeply/;

/** `analyzeSource` on a thread with a 256 MiB stack, for files nested beyond the main thread's stack. */
async function analyzeDeepSource(
  file: string,
  source: SourceText,
  options: AnalyzeOptions & { inFlake: boolean; disabled: ReadonlySet<string> },
  signal?: AbortSignal,
): Promise<FileAnalysis> {
  const { Worker } = await import("node:worker_threads");
  // Under the test runner this module is TypeScript: the worker registers tsx, then loads it.
  const typescript = import.meta.url.endsWith(".ts");
  const entry = new URL(typescript ? "./deep-worker.ts" : "./deep-worker.js", import.meta.url);
  const workerData = {
    file,
    bytes: source.bytes,
    inFlake: options.inFlake,
    disabled: [...options.disabled],
    ruleSet: options.ruleSet ?? "antipatterns",
  };
  const resourceLimits = { stackSizeMb: 256 };
  const worker = typescript
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true, workerData, resourceLimits },
      )
    : new Worker(entry, { workerData, resourceLimits });
  // A cancelled request stops the thread, not only the wait for it.
  let onAbort: (() => void) | undefined;
  const result = await new Promise<Pick<FileAnalysis, "syntaxErrors" | "findings">>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    onAbort = () => reject(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  }).finally(() => {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    return worker.terminate();
  });
  return { file, ...result };
}

/** Applies edits that do not overlap, later ones first; an edit overlapping a kept one is dropped. */
export function applyEdits(text: string, groups: Edit[][]): { text: string; applied: number } {
  const kept: Edit[] = [];
  let applied = 0;
  for (const group of groups) {
    const clashes = group.some(
      (e) =>
        kept.some((k) => e.start < k.end && k.start < e.end) ||
        group.some((o) => o !== e && e.start < o.end && o.start < e.end),
    );
    if (clashes) continue;
    kept.push(...group);
    applied++;
  }
  kept.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const e of kept) out = out.slice(0, e.start) + e.replacement + out.slice(e.end);
  return { text: out, applied };
}

/**
 * Fixes a file's findings in rounds (a fix can reveal another), keeping only rounds whose result
 * still parses. Returns the new text and how many findings were fixed.
 */
export function fixSource(
  file: string,
  source: SourceText,
  options: AnalyzeOptions & { codes?: ReadonlySet<string> } = {},
): { source: SourceText; fixed: number } {
  let current = source;
  let fixed = 0;
  for (let round = 0; round < 8; round++) {
    const analysis = analyzeSource(file, current, options);
    const groups = analysis.findings
      .filter((f) => f.fix && (!options.codes || options.codes.has(f.code)))
      .map((f) => f.fix as Edit[]);
    if (groups.length === 0) break;
    const { text, applied } = applyEdits(current.text, groups);
    const next = new SourceText(Buffer.from(text, "latin1"));
    if (applied === 0 || checkSyntax(next).errors.length > 0) break;
    current = next;
    fixed += applied;
  }
  return { source: current, fixed };
}

interface Collected {
  root: string;
  files: FlakeFiles;
  config: ScanConfig;
  analyses: FileAnalysis[];
  skipped: Array<{ file: string; reason: string }>;
  bytes: number;
}

/** How a long analysis reports how far it got: `done` of `total` files. */
export type Progress = (message: string, done: number, total: number) => Promise<void>;

/** Not more often than this: a flake of thousands of files must not send thousands of notifications. */
const PROGRESS_EVERY_MS = 500;

export async function analyzeFlake(
  engine: Engine,
  input: FileScope & { flake?: string; signal?: AbortSignal; progress?: Progress },
  options: AnalyzeOptions,
): Promise<Collected> {
  const root = servedFlake(engine, input.flake);
  const flake = new FlakeFiles(root);
  const config = loadScanConfig(flake);
  // Parsing is synchronous: between files the event loop gets its turn (a cancellation among it),
  // and a cancelled request stops here rather than after the last file.
  const pacer = new Pacer(input.signal);
  const { files } = await listNixFiles(root, input, config, pacer);
  const inFlake = existsSync(join(root, "flake.nix"));
  const analyses: FileAnalysis[] = [];
  const skipped: Array<{ file: string; reason: string }> = [];
  let bytes = 0;
  const fileOptions = {
    ...options,
    inFlake,
    disabled: new Set([...(options.disabled ?? []), ...config.disable]),
  };
  let reported = performance.now();
  for (const [done, file] of files.entries()) {
    await pacer.step();
    // The first file is reported at once, so a client sees the count early; then now and then.
    if (input.progress && (done === 1 || performance.now() - reported >= PROGRESS_EVERY_MS)) {
      reported = performance.now();
      await input.progress(`read ${done} of ${files.length} files`, done, files.length);
    }
    const read = flake.read(file);
    if ("skipped" in read) {
      skipped.push({ file, reason: read.skipped });
      continue;
    }
    bytes += read.bytes.length;
    const source = new SourceText(read.bytes);
    let analysis: FileAnalysis | undefined;
    try {
      analysis = analyzeSource(file, source, fileOptions);
    } catch (error) {
      // A rule that recurses over a tree the parser could still nest on this stack, where the
      // rule could not: the thread with the larger stack runs it all again.
      if (!(error instanceof RangeError)) throw error;
    }
    if (!analysis || analysis.syntaxErrors.some((e) => TOO_DEEP.test(e.message)))
      analysis = await analyzeDeepSource(file, source, fileOptions, input.signal);
    analyses.push(analysis);
  }
  return { root, files: flake, config, analyses, skipped, bytes };
}

/** Counts by severity, and the findings with the blocking ones first. */
export function countBySeverity(findings: Finding[]): { block: number; warn: number; ordered: Finding[] } {
  const blocking = findings.filter((f) => f.severity === "block");
  const warnings = findings.filter((f) => f.severity === "warn");
  return { block: blocking.length, warn: warnings.length, ordered: [...blocking, ...warnings] };
}

const DEFAULT_LIMIT = 10;
/** How many findings a result lists; the counts always cover all of them. */
export const limitInput = (byDefault: number) =>
  z.number().int().min(1).max(200).optional().describe(`how many findings to list (default ${byDefault})`);

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

export async function validateSyntax(
  engine: Engine,
  input: FileScope & { flake?: string; limit?: number; signal?: AbortSignal; progress?: Progress },
): Promise<ValidateSyntaxResult> {
  const collected = await analyzeFlake(engine, input, { ruleSet: "none" });
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
}

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

export async function scanAntipatterns(
  engine: Engine,
  input: FileScope & {
    flake?: string;
    rules?: string[];
    fix?: boolean;
    limit?: number;
    signal?: AbortSignal;
    progress?: Progress;
  },
): Promise<ScanResult> {
  const unknown = (input.rules ?? []).filter((c) => !ANTIPATTERN_CODES.includes(c));
  if (unknown.length > 0)
    throw new UserError(
      `unknown rule codes: ${unknown.join(", ")}`,
      `use codes from: ${ANTIPATTERN_CODES.join(", ")}`,
    );
  const only = input.rules ? new Set(input.rules) : undefined;
  const disabled = only ? new Set(ANTIPATTERN_CODES.filter((c) => !only.has(c))) : undefined;
  let collected = await analyzeFlake(engine, input, { disabled });

  let fixed: ScanResult["fixed"];
  if (input.fix) {
    fixed = [];
    // One backup in the store for the scan's fixes, private like the rest of the state (0700, files
    // 0600), since a file of the flake may hold a secret.
    let backups: BackupWriter | undefined;
    // Between files a cancellation stops the fixing; the files fixed by then keep their backups.
    const pacer = new Pacer(input.signal);
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
      collected = await analyzeFlake(engine, { ...input, progress: undefined }, { disabled });
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
}
