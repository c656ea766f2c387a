/**
 * `backup` and `restore`: the seeds' centralised backup of configuration files, over the one store
 * (store.ts). A backup holds a flake's files, or those of one directory or file inside it (a
 * home-manager directory, a host's directory); a restore puts every file back byte for byte, with
 * its mode, and removes what did not exist then. A restore checks every copy against the manifest
 * before it writes anything: a damaged manifest or file is reported by name and nothing changes.
 */
import { lstatSync, mkdirSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { listFlakeFiles } from "../analysis/files.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { operation } from "../hooks.js";
import { writeFileAtomic } from "../state.js";
import { isInside, realPathOf, servedFlake } from "../trust.js";
import {
  type BackupManifest,
  backupsDir,
  checkRelativePath,
  createBackup,
  DEFAULT_KEEP,
  listBackups,
  loadManifest,
  readBackupFile,
  verifyBackup,
} from "./store.js";

const backupSummarySchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  kind: z.string(),
  reason: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
});

function summarize(manifest: BackupManifest): z.infer<typeof backupSummarySchema> {
  return {
    id: manifest.id,
    createdAt: manifest.createdAt,
    kind: manifest.kind,
    reason: manifest.reason,
    files: manifest.files.length,
    bytes: manifest.files.reduce((n, f) => n + f.size, 0),
  };
}

export const backupInput = {
  path: z.string().min(1).max(1000).optional().describe("a directory or file of the flake (default: all)"),
  reason: z.string().min(1).max(200).optional(),
  keep: z.number().int().min(1).max(1000).optional().describe(`default ${DEFAULT_KEEP}`),
  list: z.boolean().optional(),
};

export const backupResultSchema = z.object({
  flake: z.string(),
  backup: backupSummarySchema.optional().describe("the backup taken"),
  directory: z.string().optional().describe("where it is: manifest.json and files/"),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  backups: z.array(backupSummarySchema).describe("this flake's backups, newest first"),
  damaged: z
    .array(z.object({ id: z.string(), problem: z.string() }))
    .describe("backups whose manifest cannot be read; never restored"),
  summary: z.string(),
});
export type BackupResult = z.infer<typeof backupResultSchema>;

/** Backups taken of this flake: the manifest's source is the flake, whatever the path's spelling. */
export function flakeBackups(env: NodeJS.ProcessEnv, flake: string) {
  const real = realPathOf(flake);
  const { backups, damaged } = listBackups(env);
  return { backups: backups.filter((b) => realPathOf(b.source) === real), damaged };
}

/** A path given in input as a path relative to the flake, refused when it leaves the flake. */
function insideFlake(flake: string, path: string, what: string): string {
  const absolute = resolve(flake, path);
  if (!isInside(realPathOf(flake), realPathOf(absolute)))
    throw new UserError(`${what} ${path} is outside the flake ${flake}`, "name a path inside the flake");
  return relative(flake, absolute).split(sep).join("/");
}

export const backup = operation<BackupInput, BackupResult>(async (engine, input) => {
  const flake = servedFlake(engine, input.flake);
  if (input.list && (input.path || input.reason || input.keep))
    throw new UserError(
      "list takes no backup: path, reason and keep do not apply",
      "leave them out, or list",
    );
  let taken: ReturnType<typeof createBackup> | undefined;
  if (!input.list) {
    const within = input.path === undefined ? "" : insideFlake(flake, input.path, "path");
    const { files } = await listFlakeFiles(flake, {});
    const isFile = within !== "" && statSync(join(flake, within), { throwIfNoEntry: false })?.isFile();
    const chosen = isFile
      ? [within]
      : files.filter((f) => within === "" || f === within || f.startsWith(`${within}/`)).sort();
    if (chosen.length === 0)
      throw new UserError(
        `no files to back up in ${within || flake}`,
        "name a directory or file of the flake (git-ignored files are not backed up)",
      );
    taken = createBackup(engine.env, {
      source: flake,
      files: chosen,
      kind: "backup",
      reason: input.reason ?? "backup",
      keep: input.keep ?? DEFAULT_KEEP,
    });
    engine.log.info({ flake, backup: taken.manifest.id, files: chosen.length }, "files backed up");
  }
  const { backups, damaged } = flakeBackups(engine.env, flake);
  const newestFirst = backups.reverse().map(summarize);
  return {
    flake,
    backup: taken && summarize(taken.manifest),
    directory: taken && join(backupsDir(engine.env), taken.manifest.id),
    skipped: taken?.skipped ?? [],
    backups: newestFirst,
    damaged,
    summary: taken
      ? `backed up ${taken.manifest.files.length} files of ${input.path ?? flake} as ${taken.manifest.id}` +
        (taken.skipped.length ? `; ${taken.skipped.length} skipped (links, special files)` : "") +
        `; ${newestFirst.length} backups of this flake kept`
      : `${newestFirst.length} backups of this flake${damaged.length ? `; ${damaged.length} damaged` : ""}`,
  };
});

export const restoreInput = {
  backup: z.string().min(1).max(100).optional().describe('an id, or "latest" (default)'),
};

export const restoreResultSchema = z.object({
  flake: z.string(),
  restored: z.string().describe("the backup put back"),
  files: z.array(z.string()).describe("files written back, byte for byte"),
  removed: z.array(z.string()).describe("files that did not exist when the backup was taken, removed"),
  replacedBackup: z.string().optional().describe("the files as they were before the restore, backed up"),
  summary: z.string(),
});
export type RestoreResult = z.infer<typeof restoreResultSchema>;

/** The backup to restore: by id, or the newest of this flake; another flake's is refused. */
function chooseBackup(env: NodeJS.ProcessEnv, flake: string, id = "latest"): BackupManifest {
  const { backups, damaged } = flakeBackups(env, flake);
  if (id === "latest") {
    const newest = backups.at(-1);
    if (!newest)
      throw new UserError(
        `no backup of ${flake}`,
        damaged.length
          ? `damaged backups, not restored: ${damaged.map((d) => d.id).join(", ")}`
          : "take one with the backup tool first",
      );
    return newest;
  }
  const manifest = loadManifest(env, id);
  if (realPathOf(manifest.source) !== realPathOf(flake))
    throw new UserError(
      `backup ${id} is of ${manifest.source}, not of ${flake}`,
      `backups of this flake: ${backups.map((b) => b.id).join(", ") || "(none)"}`,
    );
  return manifest;
}

/**
 * Puts a backup back into the flake: verified whole first, then the files as they are now backed up
 * (so a restore can be undone), then each file written in one rename with its mode, and the files
 * that did not exist then removed.
 */
export function restoreFromBackup(
  engine: Engine,
  flake: string,
  manifest: BackupManifest,
): Omit<RestoreResult, "summary"> {
  const problems = verifyBackup(engine.env, manifest);
  for (const path of manifest.absent) {
    try {
      checkRelativePath(path, `backup ${manifest.id}`);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const realFlake = realPathOf(flake);
  for (const path of [...manifest.files.map((f) => f.path), ...manifest.absent])
    if (!isInside(realFlake, realPathOf(dirname(join(flake, path)))))
      problems.push(`${path}: its directory leads outside the flake`);
  if (problems.length)
    throw new UserError(
      `backup ${manifest.id} cannot be restored; nothing was changed:\n${problems.join("\n")}`,
      `look at ${join(backupsDir(engine.env), manifest.id)}; choose another backup`,
    );
  const present = (path: string) => lstatSync(join(flake, path), { throwIfNoEntry: false }) !== undefined;
  const toRemove = manifest.absent.filter(present);
  const paths = manifest.files.map((f) => f.path);
  const replaced = createBackup(engine.env, {
    source: flake,
    files: [...paths.filter(present), ...toRemove],
    absent: paths.filter((p) => !present(p)),
    kind: "restore",
    reason: `before restoring ${manifest.id}`,
    keep: DEFAULT_KEEP,
  });
  for (const file of manifest.files) {
    const bytes = readBackupFile(engine.env, manifest, file.path);
    const target = join(flake, file.path);
    // The flake's own directories are the user's: readable as a checkout's are, not 0700.
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileAtomic(target, bytes, { backup: false, mode: file.mode & 0o777 });
  }
  for (const path of toRemove) {
    unlinkSync(join(flake, path));
    removeEmptyParents(flake, dirname(path));
  }
  engine.log.info({ flake, backup: manifest.id, files: paths.length, removed: toRemove }, "backup restored");
  return {
    flake,
    restored: manifest.id,
    files: paths,
    removed: toRemove,
    replacedBackup: replaced.manifest.id,
  };
}

/** Removes `dir` and its parents, up to the flake root, while they are empty. */
function removeEmptyParents(flake: string, dir: string): void {
  for (let d = dir; d !== "." && d !== ""; d = dirname(d)) {
    const path = join(flake, d);
    if (readdirSync(path).length > 0) return;
    rmdirSync(path);
  }
}

export const restore = operation<RestoreInput, RestoreResult>(async (engine, input) => {
  const flake = servedFlake(engine, input.flake);
  const manifest = chooseBackup(engine.env, flake, input.backup);
  const result = restoreFromBackup(engine, flake, manifest);
  return {
    ...result,
    summary:
      `restored ${result.files.length} files from backup ${manifest.id} (${manifest.reason})` +
      (result.removed.length ? `; removed ${result.removed.length} files created since` : "") +
      `; the files it replaced are backup ${result.replacedBackup}`,
  };
});

export type BackupInput = { flake?: string; path?: string; reason?: string; keep?: number; list?: boolean };
export type RestoreInput = { flake?: string; backup?: string };
