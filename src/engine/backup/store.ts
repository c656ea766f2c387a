/**
 * The one store of backed-up configuration files: every backup nix-deploy takes (a flake's files
 * before add_host writes, flake.lock before an update, a file before a scan fixes it, what `backup`
 * is asked to keep) is a directory under the state directory, never beside the files (where it
 * would show up in the user's git tree):
 *
 *   $XDG_STATE_HOME/nix-deploy/backups/<id>/manifest.json   source, reason, and per file: size, sha256, mode
 *   $XDG_STATE_HOME/nix-deploy/backups/<id>/files/<path>    the bytes, by path relative to the source
 *
 * Directories are 0700 and files 0600: a flake may hold a secret. Ids begin with the time, to the
 * millisecond, so they sort in the order the backups were taken.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { stateDir } from "../log.js";
import { writeFileAtomic } from "../state.js";
import { isInside } from "../trust.js";

/** How many backups of one flake and kind are kept unless told otherwise. */
export const DEFAULT_KEEP = 10;

export const BACKUP_ID = /^\d{8}T\d{9}-[0-9a-f]{6}$/;

const backupFileSchema = z.object({
  path: z.string().describe("relative to the source"),
  size: z.number().int(),
  sha256: z.string(),
  mode: z.number().int().describe("the file's permission bits, put back on restore"),
});
export type BackupFile = z.infer<typeof backupFileSchema>;

export const manifestSchema = z.object({
  id: z.string().regex(BACKUP_ID),
  createdAt: z.string(),
  kind: z.string().describe("what took it: backup, add-host, lock, scan-fix, restore"),
  source: z.string().describe("the directory the paths are relative to"),
  reason: z.string(),
  files: z.array(backupFileSchema),
  absent: z
    .array(z.string())
    .default([])
    .describe("paths that did not exist when the backup was taken: a restore removes them"),
});
export type BackupManifest = z.infer<typeof manifestSchema>;

export function backupsDir(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "backups");
}

export const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

/** A directory only we can use; mkdir's mode does not apply to one that existed already. */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** A relative path that stays inside its root: no `..`, no absolute path, no empty part. */
export function checkRelativePath(path: string, what: string): void {
  const parts = path.split("/");
  if (path.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..") || path.includes("\0"))
    throw new UserError(`${what}: "${path}" is not a plain relative path`, "name a file inside the flake");
}

const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * A file of `root` as bytes and mode, or why it is not read: a link (never followed, so nothing
 * outside the root is read), no regular file, or larger than `maxBytes`.
 */
export function readSourceFile(
  root: string,
  path: string,
  maxBytes = 64 * 1024 * 1024,
): { bytes: Buffer; mode: number } | { skipped: string } {
  checkRelativePath(path, "a backed-up file");
  const realRoot = realpathSync(root);
  let realDir: string;
  try {
    realDir = realpathSync(join(root, dirname(path)));
  } catch {
    return { skipped: "gone" };
  }
  if (!isInside(realRoot, realDir)) return { skipped: "in a directory that leads outside" };
  let fd: number;
  try {
    fd = openSync(join(realDir, path.split("/").at(-1) as string), READ_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EMLINK") return { skipped: "a symbolic link (not followed)" };
    if (code === "ENOENT") return { skipped: "gone" };
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { skipped: "not a regular file" };
    if (stats.size > maxBytes) return { skipped: `larger than ${maxBytes} bytes` };
    return { bytes: readFileSync(fd), mode: stats.mode & 0o7777 };
  } finally {
    closeSync(fd);
  }
}

let lastStamp = 0;

function newBackupId(): { id: string; createdAt: string } {
  // Strictly increasing within this process, so two backups in one millisecond still sort in order.
  const now = Math.max(Date.now(), lastStamp + 1);
  lastStamp = now;
  const createdAt = new Date(now).toISOString();
  const stamp = createdAt.replace(/[-:.Z]/g, "");
  return { id: `${stamp}-${randomBytes(3).toString("hex")}`, createdAt };
}

/**
 * A backup being written: files are added one by one (a scan backs up each file just before it
 * fixes it), and the manifest is written by `finish`, once, atomically.
 */
export class BackupWriter {
  readonly manifest: BackupManifest;
  readonly dir: string;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    options: { source: string; kind: string; reason: string; absent?: string[] },
  ) {
    const { id, createdAt } = newBackupId();
    this.manifest = {
      id,
      createdAt,
      kind: options.kind,
      source: options.source,
      reason: options.reason,
      files: [],
      absent: options.absent ?? [],
    };
    privateDir(backupsDir(env));
    this.dir = join(backupsDir(env), id);
    mkdirSync(this.dir, { mode: 0o700 });
  }

  /** Keeps `bytes` as the file `path` of the source; returns where the copy is. */
  add(path: string, bytes: Buffer, mode: number): string {
    checkRelativePath(path, "a backed-up file");
    const copy = join(this.dir, "files", path);
    privateDir(dirname(copy));
    writeFileAtomic(copy, bytes, { backup: false, mode: 0o600 });
    this.manifest.files.push({ path, size: bytes.length, sha256: sha256(bytes), mode });
    return copy;
  }

  finish(keep?: number): BackupManifest {
    writeFileAtomic(join(this.dir, "manifest.json"), `${JSON.stringify(this.manifest, null, 2)}\n`, {
      backup: false,
    });
    if (keep !== undefined) pruneBackups(this.env, this.manifest, keep);
    return this.manifest;
  }
}

/**
 * Backs up files of `source` (paths relative to it) in one go. Files that are links or not regular
 * files are left out and returned as skipped; `absent` lists paths that do not exist yet and that a
 * restore should remove (the files an operation is about to create).
 */
export function createBackup(
  env: NodeJS.ProcessEnv,
  options: {
    source: string;
    files: string[];
    kind: string;
    reason: string;
    absent?: string[];
    keep?: number;
  },
): { manifest: BackupManifest; skipped: Array<{ path: string; reason: string }> } {
  const writer = new BackupWriter(env, options);
  const skipped: Array<{ path: string; reason: string }> = [];
  for (const path of options.files) {
    const read = readSourceFile(options.source, path);
    if ("skipped" in read) skipped.push({ path, reason: read.skipped });
    else writer.add(path, read.bytes, read.mode);
  }
  return { manifest: writer.finish(options.keep), skipped };
}

/** A backup whose manifest cannot be used, and why: listed, never restored. */
export interface DamagedBackup {
  id: string;
  problem: string;
}

/** Reads one backup's manifest; a missing or invalid one is a UserError naming the file. */
export function loadManifest(env: NodeJS.ProcessEnv, id: string): BackupManifest {
  if (!BACKUP_ID.test(id))
    throw new UserError(`"${id}" is not a backup id`, "use an id the backup tool listed, or latest");
  const file = join(backupsDir(env), id, "manifest.json");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === "ENOENT"
        ? `backup ${id} has no manifest (${file})`
        : `the manifest of backup ${id} is damaged (${file}): ${(error as Error).message}`,
      "choose another backup; this one cannot be restored safely",
    );
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success || parsed.data.id !== id)
    throw new UserError(
      `the manifest of backup ${id} is damaged (${file}): ${parsed.success ? "it names another backup" : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      "choose another backup; this one cannot be restored safely",
    );
  return parsed.data;
}

/** Every backup, oldest first, with the damaged ones apart. Directories that are not backups are ignored. */
export function listBackups(env: NodeJS.ProcessEnv): { backups: BackupManifest[]; damaged: DamagedBackup[] } {
  let names: string[];
  try {
    names = readdirSync(backupsDir(env)).filter((name) => BACKUP_ID.test(name));
  } catch {
    return { backups: [], damaged: [] };
  }
  const backups: BackupManifest[] = [];
  const damaged: DamagedBackup[] = [];
  for (const id of names.sort()) {
    try {
      backups.push(loadManifest(env, id));
    } catch (error) {
      damaged.push({ id, problem: (error as Error).message });
    }
  }
  return { backups, damaged };
}

/** What is wrong with a backup's files: each missing or changed copy, by name. Empty when all match. */
export function verifyBackup(env: NodeJS.ProcessEnv, manifest: BackupManifest): string[] {
  const problems: string[] = [];
  for (const file of manifest.files) {
    const copy = join(backupsDir(env), manifest.id, "files", file.path);
    let bytes: Buffer;
    try {
      checkRelativePath(file.path, `backup ${manifest.id}`);
      if (!lstatSync(copy).isFile()) throw new Error("not a regular file");
      bytes = readFileSync(copy);
    } catch (error) {
      problems.push(`${file.path}: the copy is missing or unreadable (${(error as Error).message})`);
      continue;
    }
    if (bytes.length !== file.size || sha256(bytes) !== file.sha256)
      problems.push(`${file.path}: the copy does not match the manifest (size or sha256 differs)`);
  }
  return problems;
}

/** The bytes of one backed-up file, checked against the manifest. */
export function readBackupFile(env: NodeJS.ProcessEnv, manifest: BackupManifest, path: string): Buffer {
  const file = manifest.files.find((f) => f.path === path);
  if (!file) throw new UserError(`backup ${manifest.id} holds no ${path}`);
  checkRelativePath(path, `backup ${manifest.id}`);
  const bytes = readFileSync(join(backupsDir(env), manifest.id, "files", path));
  if (bytes.length !== file.size || sha256(bytes) !== file.sha256)
    throw new UserError(
      `the backup ${manifest.id} of ${path} does not match its manifest entry`,
      `look at ${join(backupsDir(env), manifest.id)}; choose another backup`,
    );
  return bytes;
}

/** Keeps the newest `keep` backups of the same source and kind as `latest`; removes older ones. */
export function pruneBackups(env: NodeJS.ProcessEnv, latest: BackupManifest, keep: number): string[] {
  const same = listBackups(env).backups.filter((b) => b.source === latest.source && b.kind === latest.kind);
  const removed = same.slice(0, Math.max(0, same.length - Math.max(1, keep))).map((b) => b.id);
  for (const id of removed) rmSync(join(backupsDir(env), id), { recursive: true, force: true });
  return removed;
}
