/**
 * Which .nix files of a flake an analysis reads: what git would commit (tracked plus untracked,
 * minus ignored — `git ls-files -co --exclude-standard`), or every file outside `.git` when the
 * flake is not a git repository; optionally only those changed in the working tree or since a ref.
 * Binary and huge files are skipped with a note rather than parsed.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { join, relative, sep } from "node:path";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { UserError } from "../errors.js";
import { compileGlob, MAX_GLOB_LENGTH } from "./glob.js";

export const MAX_FILE_BYTES = 1024 * 1024;

/** A git ref from input: never something git would read as an option. */
export const gitRefSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s-][^\s]*$/, "a git ref (branch, tag or commit), not an option");

export const scopeInput = {
  changed: z
    .boolean()
    .optional()
    .describe(
      "only files changed in the git working tree (against `since`, default HEAD), untracked ones included",
    ),
  since: gitRefSchema.optional().describe("a git ref: only files changed since it (implies `changed`)"),
};

export interface FileScope {
  changed?: boolean;
  since?: string;
}

export interface ScanConfig {
  disable: string[];
  ignore: string[];
}

export const CONFIG_FILE = "nix-deploy-scan.json";

/** How many globs `ignore` may hold: each costs a pass over every path of the flake. */
export const MAX_IGNORE_GLOBS = 100;

const configSchema = z
  .object({
    disable: z.array(z.string()).default([]).describe("rule codes never reported"),
    ignore: z
      .array(
        z
          .string()
          .min(1, "an empty glob; remove it")
          .max(
            MAX_GLOB_LENGTH,
            `a glob longer than ${MAX_GLOB_LENGTH} characters; shorten it (\`dir/**\` ignores a whole directory)`,
          ),
      )
      .max(
        MAX_IGNORE_GLOBS,
        `more than ${MAX_IGNORE_GLOBS} globs; merge them (\`dir/**\` ignores a whole directory)`,
      )
      .default([])
      .describe("globs of files never read (`vendor/**`, `hardware-configuration.nix`)"),
  })
  .strict();

/** `nix-deploy-scan.json` at the flake root: disabled rules and ignored paths; absent means none. */
export function loadScanConfig(root: string): ScanConfig {
  const file = join(root, CONFIG_FILE);
  if (!existsSync(file)) return { disable: [], ignore: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UserError(`${CONFIG_FILE} is not valid JSON: ${(error as Error).message}`, `fix ${file}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(
      `${CONFIG_FILE}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
      `write it as {"disable": ["rule-code"], "ignore": ["path/glob/**"]}`,
    );
  }
  return parsed.data;
}

/**
 * Lets the event loop run between the steps of a long synchronous job (every 50 ms at most), so
 * that a cancellation can arrive, and stops the job with the signal's reason once it has.
 */
export class Pacer {
  private last = performance.now();

  constructor(private readonly signal?: AbortSignal) {}

  async step(): Promise<void> {
    this.signal?.throwIfAborted();
    if (performance.now() - this.last < 50) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.last = performance.now();
    this.signal?.throwIfAborted();
  }
}

export interface ListedFiles {
  /** Paths relative to the root, with `/`. */
  files: string[];
  git: boolean;
}

async function isGitRepo(root: string): Promise<boolean> {
  const { simpleGit } = await import("simple-git");
  try {
    return (await simpleGit(root).raw(["rev-parse", "--is-inside-work-tree"])).trim() === "true";
  } catch {
    return false;
  }
}

function walkDir(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const rel = relative(root, join(entry.parentPath, entry.name)).split(sep).join("/");
    if (/(^|\/)(\.git|node_modules|result[^/]*)\//.test(rel)) continue;
    out.push(rel);
  }
  return out;
}

/** The .nix files of the flake in scope, sorted, minus the configuration's ignored globs. */
export async function listNixFiles(
  root: string,
  scope: FileScope,
  config: ScanConfig,
  pacer = new Pacer(),
): Promise<ListedFiles> {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new UserError(
      `the flake directory ${root} does not exist`,
      "pass the directory that holds flake.nix",
    );
  const git = await isGitRepo(root);
  let files: string[];
  if (git) {
    const { simpleGit } = await import("simple-git");
    const repo = simpleGit(root);
    const split = (out: string) => out.split("\0").filter((f) => f !== "");
    if (scope.changed || scope.since) {
      const ref = scope.since ?? "HEAD";
      let changed: string;
      try {
        changed = await repo.raw(["diff", "--name-only", "--relative", "-z", ref, "--"]);
      } catch (error) {
        throw new UserError(
          `cannot compare with git ref ${ref}: ${(error as Error).message.split("\n")[0]}`,
          "pass a ref that exists in the flake's repository (a branch, tag or commit), or leave `since` out",
        );
      }
      const untracked = await repo.raw(["ls-files", "-o", "--exclude-standard", "-z"]);
      files = [...new Set([...split(changed), ...split(untracked)])].filter((f) => existsSync(join(root, f)));
    } else {
      files = split(await repo.raw(["ls-files", "-co", "--exclude-standard", "-z"])).filter((f) =>
        existsSync(join(root, f)),
      );
    }
  } else {
    if (scope.changed || scope.since)
      throw new UserError(
        `${root} is not a git repository, so there is no "changed" to compare with`,
        "scan the whole flake (leave `changed` and `since` out), or run `git init` there",
      );
    files = walkDir(root);
  }
  const ignored = config.ignore.map(compileGlob);
  const kept: string[] = [];
  for (const file of files) {
    await pacer.step();
    if (file.endsWith(".nix") && !ignored.some((glob) => glob.test(file))) kept.push(file);
  }
  return { git, files: kept.sort() };
}

export type ReadOutcome = { bytes: Buffer } | { skipped: string };

/** A file's bytes, or why it is not read: too large, or binary (a NUL byte near the start). */
export function readSourceFile(path: string, maxBytes = MAX_FILE_BYTES): ReadOutcome {
  // One open file for the size check and the read: a scan reads thousands of files, and a stat by
  // path beside readFileSync's own costs as much as the read.
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) return { skipped: `larger than ${Math.round(maxBytes / 1024)} KiB (${size} bytes)` };
    const buffer = Buffer.allocUnsafe(size);
    let length = 0;
    while (length < size) {
      const read = readSync(fd, buffer, length, size - length, length);
      if (read === 0) break;
      length += read;
    }
    const bytes = buffer.subarray(0, length);
    if (bytes.subarray(0, 8000).includes(0)) return { skipped: "binary (contains NUL bytes)" };
    return { bytes };
  } finally {
    closeSync(fd);
  }
}
