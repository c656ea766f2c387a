import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { flakeBackups } from "../backup/operations.js";
import { type BackupManifest, createBackup, readBackupFile } from "../backup/store.js";
import { UserError } from "../errors.js";
import { writeFileAtomic } from "../state.js";

/**
 * flake.lock backups: backups of the one file flake.lock, of kind "lock", in the store every backup
 * uses (backup/store.ts), under the state directory rather than beside the lock so that they never
 * show up in the user's git tree.
 */

export const lockBackupSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  flake: z.string().describe("the flake directory whose flake.lock this was"),
  reason: z.string().describe("what replaced the lock: update, restore"),
  sha256: z.string(),
});
export type LockBackup = z.infer<typeof lockBackupSchema>;

const LOCK = "flake.lock";
/** Lock backups are small and each is a way back: many more are kept than of whole flakes. */
const KEEP_LOCKS = 50;

function asLockBackup(manifest: BackupManifest): LockBackup {
  return {
    id: manifest.id,
    createdAt: manifest.createdAt,
    flake: manifest.source,
    reason: manifest.reason,
    sha256: manifest.files[0]?.sha256 ?? "",
  };
}

/** This flake's lock backups, oldest first. */
export function listLockBackups(env: NodeJS.ProcessEnv, flake: string): LockBackup[] {
  return flakeBackups(env, flake)
    .backups.filter((b) => b.kind === "lock" && b.files.length === 1 && b.files[0]?.path === LOCK)
    .map(asLockBackup);
}

/** Keeps a copy of the flake's lock as it is now; returns its entry. */
export function backUpLock(env: NodeJS.ProcessEnv, flake: string, reason: string): LockBackup {
  if (!existsSync(join(flake, LOCK)))
    throw new UserError(`${flake} has no flake.lock to back up`, "run `nix flake lock` in the flake first");
  const { manifest, skipped } = createBackup(env, {
    source: flake,
    files: [LOCK],
    kind: "lock",
    reason,
    keep: KEEP_LOCKS,
  });
  if (skipped.length)
    throw new UserError(`${flake}/flake.lock is not backed up: it is ${skipped[0]?.reason}`);
  return asLockBackup(manifest);
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
  const manifest = flakeBackups(env, backup.flake).backups.find((b) => b.id === backup.id);
  if (!manifest) throw new UserError(`the flake.lock backup ${backup.id} is gone`, "choose another backup");
  return readBackupFile(env, manifest, LOCK).toString("utf8");
}

/** Replaces the flake's lock in one rename, keeping the file's mode (it is the user's, not ours). */
export function writeLock(flake: string, text: string): void {
  const lockFile = join(flake, LOCK);
  const mode = existsSync(lockFile) ? statSync(lockFile).mode & 0o777 : 0o644;
  writeFileAtomic(lockFile, text, { backup: false, mode });
}
