/**
 * Which .nix files of a flake an analysis reads: what git would commit (tracked plus untracked,
 * minus ignored — `git ls-files -co --exclude-standard`), or every file outside `.git` when the
 * flake is not a git repository; optionally only those changed in the working tree or since a ref.
 * Binary and huge files are skipped with a note rather than parsed, and so are symbolic links that
 * lead out of the flake: nothing outside the flake root is read, and writes never follow a link.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
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
export function loadScanConfig(flake: FlakeFiles): ScanConfig {
  const file = join(flake.root, CONFIG_FILE);
  if (!existsSync(file)) return { disable: [], ignore: [] };
  const read = flake.read(CONFIG_FILE);
  if ("skipped" in read)
    throw new UserError(
      `${CONFIG_FILE} is not read: it is ${read.skipped}`,
      `make ${file} a regular file of the flake (at most ${MAX_FILE_BYTES / 1024} KiB of JSON)`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(read.bytes.toString("utf8"));
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
    // Links are listed as git lists them: reading decides whether they stay inside the flake.
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const rel = relative(root, join(entry.parentPath, entry.name)).split(sep).join("/");
    if (/(^|\/)(\.git|node_modules|result[^/]*)\//.test(rel)) continue;
    out.push(rel);
  }
  return out;
}

function assertFlakeDirectory(root: string): void {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new UserError(
      `the flake directory ${root} does not exist`,
      "pass the directory that holds flake.nix",
    );
}

/** Every file of the flake in scope (what git would commit, or all outside `.git`), unsorted. */
export async function listFlakeFiles(root: string, scope: FileScope): Promise<ListedFiles> {
  assertFlakeDirectory(root);
  const { simpleGit } = await import("simple-git");
  const repo = simpleGit(root);
  const split = (out: string) => out.split("\0").filter((f) => f !== "");
  let files: string[] | undefined;
  if (!scope.changed && !scope.since) {
    // One git process: ls-files fails outside a work tree, which then is walked instead.
    try {
      files = split(await repo.raw(["ls-files", "-co", "--exclude-standard", "-z"]));
    } catch {
      files = undefined;
    }
  } else if (await isGitRepo(root)) {
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
    files = [...new Set([...split(changed), ...split(untracked)])];
  }
  const git = files !== undefined;
  if (files) {
    files = files.filter((f) => existsSync(join(root, f)));
  } else {
    if (scope.changed || scope.since)
      throw new UserError(
        `${root} is not a git repository, so there is no "changed" to compare with`,
        "scan the whole flake (leave `changed` and `since` out), or run `git init` there",
      );
    files = walkDir(root);
  }
  return { git, files };
}

/** The .nix files of the flake in scope, sorted, minus the configuration's ignored globs. */
export async function listNixFiles(
  root: string,
  scope: FileScope,
  config: ScanConfig,
  pacer = new Pacer(),
): Promise<ListedFiles> {
  const { git, files } = await listFlakeFiles(root, scope);
  const ignored = config.ignore.map(compileGlob);
  const kept: string[] = [];
  for (const file of files) {
    await pacer.step();
    if (file.endsWith(".nix") && !ignored.some((glob) => glob.test(file))) kept.push(file);
  }
  return { git, files: kept.sort() };
}

/** A file's bytes with what a rewrite needs (its real path, mode and owner), or why it is not read. */
export type ReadOutcome = { bytes: Buffer; real: string; stats: Stats } | { skipped: string };

/** What is skipped, and why, for a person reading the result. */
const OUTSIDE = "a symbolic link that leads outside the flake; nothing outside the flake is read";
const LINK_TO_NOTHING = "a symbolic link to nothing";

// O_NOFOLLOW: a link as the last part of a path fails to open (ELOOP) rather than being followed.
// O_NONBLOCK: a FIFO does not hold the scan up; it is then skipped as no regular file.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/**
 * The files of one flake, read and rewritten without ever leaving it: the real path of every file
 * read is inside the real path of the root (a tracked `env.nix` linking to `~/.env` is skipped with
 * a note, not shown line by line in a syntax error), and a rewrite replaces the file itself, never
 * what a link points to.
 */
export class FlakeFiles {
  readonly realRoot: string;
  /** Real paths of the directories seen, by path relative to the root, or why none is read. */
  private readonly realDirs = new Map<string, { real: string } | { skipped: string }>();

  constructor(readonly root: string) {
    assertFlakeDirectory(root);
    this.realRoot = realpathSync.native(root);
  }

  private inside(real: string): boolean {
    return (
      real === this.realRoot ||
      real.startsWith(this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep)
    );
  }

  /**
   * The real path of a directory of the flake. Resolved once per directory: files are opened in it
   * without following a link, so their own real path is this one and their name, without a
   * realpath call per file (a scan reads thousands). A directory swapped for a link between this
   * and the open is not caught: that takes someone writing into the flake while it is scanned,
   * who could as well write the secret itself into it.
   */
  private realDir(dir: string): { real: string } | { skipped: string } {
    let found = this.realDirs.get(dir);
    if (!found) {
      try {
        const real = realpathSync.native(join(this.root, dir));
        found = this.inside(real) ? { real } : { skipped: OUTSIDE };
      } catch {
        found = { skipped: "gone (its directory was removed while the scan ran)" };
      }
      this.realDirs.set(dir, found);
    }
    return found;
  }

  /** Where a file of the flake really is, or why it is not read (a link that leaves the flake). */
  private locate(file: string): { real: string; fd: number } | { skipped: string } {
    const dir = this.realDir(dirname(file));
    if ("skipped" in dir) return dir;
    const path = join(dir.real, basename(file));
    try {
      return { real: path, fd: openSync(path, READ_FLAGS) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return { skipped: "gone (deleted while the scan ran)" };
      if (code === "EACCES") return { skipped: "not readable (permission denied)" };
      // ELOOP (EMLINK on BSD): the file is a link. It is read only when it leads to a file inside.
      if (code !== "ELOOP" && code !== "EMLINK") throw error;
    }
    let real: string;
    try {
      real = realpathSync.native(path);
    } catch {
      return { skipped: LINK_TO_NOTHING };
    }
    if (!this.inside(real)) return { skipped: OUTSIDE };
    return { real, fd: openSync(real, READ_FLAGS) };
  }

  /** A file's bytes, or why it is not read: outside the flake, no regular file, too large, or binary. */
  read(file: string, maxBytes = MAX_FILE_BYTES): ReadOutcome {
    const located = this.locate(file);
    if ("skipped" in located) return located;
    // One open file for the checks and the read: a scan reads thousands of files, and a stat by
    // path beside the read's own costs as much as the read.
    const { fd, real } = located;
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) return { skipped: "not a regular file" };
      const size = stats.size;
      if (size > maxBytes)
        return { skipped: `larger than ${Math.round(maxBytes / 1024)} KiB (${size} bytes)` };
      const buffer = Buffer.allocUnsafe(size);
      let length = 0;
      while (length < size) {
        const read = readSync(fd, buffer, length, size - length, length);
        if (read === 0) break;
        length += read;
      }
      const bytes = buffer.subarray(0, length);
      if (bytes.subarray(0, 8000).includes(0)) return { skipped: "binary (contains NUL bytes)" };
      return { bytes, real, stats };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Replaces a file read by `read` with new bytes: a new file beside it (created exclusively, so
   * no link planted under its name is followed), with the old one's mode and owner, renamed over
   * it. A rename replaces whatever is at the path, a link included, and never writes through it.
   */
  replace(read: { real: string; stats: Stats }, bytes: Buffer): void {
    if (!this.inside(read.real)) throw new Error(`refusing to write outside the flake: ${read.real}`);
    const temp = join(dirname(read.real), `.${basename(read.real)}.${randomBytes(6).toString("hex")}.tmp`);
    const fd = openSync(temp, CREATE_FLAGS, 0o600);
    try {
      try {
        let written = 0;
        while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
        fchmodSync(fd, read.stats.mode & 0o7777);
        // Only root may give a file away; anyone else writes files they own anyway.
        if (process.getuid?.() === 0) fchownSync(fd, read.stats.uid, read.stats.gid);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, read.real);
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // Already renamed, or never written: nothing to clean up.
      }
      throw error;
    }
  }
}
