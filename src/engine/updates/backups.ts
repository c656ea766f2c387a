import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { stateDir } from "../log.js";
import { readJson, writeFileAtomic } from "../state.js";

/**
 * flake.lock backups, kept under the state directory rather than beside the lock so that they never
 * show up in the user's git tree (a `flake.lock.backup` beside the lock would). A manifest lists them, newest
 * last; each backup is one file named by its id.
 */

export const lockBackupSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  flake: z.string().describe("the flake directory whose flake.lock this was"),
  reason: z.string().describe("what replaced the lock: update, restore"),
  sha256: z.string(),
});
export type LockBackup = z.infer<typeof lockBackupSchema>;

const manifestSchema = z.object({ backups: z.array(lockBackupSchema) });

export function lockBackupsDir(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "lock-backups");
}

function manifestPath(env: NodeJS.ProcessEnv): string {
  return join(lockBackupsDir(env), "manifest.json");
}

export function listLockBackups(env: NodeJS.ProcessEnv, flake?: string): LockBackup[] {
  const raw = readJson<unknown>(manifestPath(env));
  const backups = raw === undefined ? [] : manifestSchema.parse(raw).backups;
  return flake ? backups.filter((b) => b.flake === flake) : backups;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Keeps a copy of the flake's lock as it is now; returns its manifest entry. */
export function backUpLock(env: NodeJS.ProcessEnv, flake: string, reason: string): LockBackup {
  const lockFile = join(flake, "flake.lock");
  if (!existsSync(lockFile))
    throw new UserError(`${flake} has no flake.lock to back up`, "run `nix flake lock` in the flake first");
  const text = readFileSync(lockFile, "utf8");
  const createdAt = new Date().toISOString();
  const backup: LockBackup = {
    id: `${createdAt.replaceAll(/[-:.]/g, "").slice(0, 15)}-${randomBytes(3).toString("hex")}`,
    createdAt,
    flake,
    reason,
    sha256: sha256(text),
  };
  writeFileAtomic(join(lockBackupsDir(env), `${backup.id}.lock`), text, { backup: false });
  const backups = [...listLockBackups(env), backup];
  writeFileAtomic(manifestPath(env), `${JSON.stringify({ backups }, null, 2)}\n`, { backup: false });
  return backup;
}

/** A backup of this flake's lock: by id, or the newest ("latest"). */
export function findLockBackup(env: NodeJS.ProcessEnv, flake: string, id = "latest"): LockBackup {
  const backups = listLockBackups(env, flake);
  const found = id === "latest" ? backups.at(-1) : backups.find((b) => b.id === id);
  if (!found) {
    throw new UserError(
      id === "latest" ? `no backed-up flake.lock for ${flake}` : `no flake.lock backup ${id} for ${flake}`,
      backups.length
        ? `backups of this flake: ${backups.map((b) => b.id).join(", ")}`
        : "backups are made by update; there is nothing to restore yet",
    );
  }
  return found;
}

export function readLockBackup(env: NodeJS.ProcessEnv, backup: LockBackup): string {
  const text = readFileSync(join(lockBackupsDir(env), `${backup.id}.lock`), "utf8");
  if (sha256(text) !== backup.sha256)
    throw new UserError(
      `the flake.lock backup ${backup.id} does not match its manifest entry`,
      `look at ${lockBackupsDir(env)}; choose another backup`,
    );
  return text;
}

/** Replaces the flake's lock in one rename, keeping the file's mode (it is the user's, not ours). */
export function writeLock(flake: string, text: string): void {
  const lockFile = join(flake, "flake.lock");
  const mode = existsSync(lockFile) ? statSync(lockFile).mode & 0o777 : 0o644;
  writeFileAtomic(lockFile, text, { backup: false, mode });
}
