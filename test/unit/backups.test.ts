import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backupsDir } from "../../src/engine/backup/store.js";
import {
  backUpLock,
  findLockBackup,
  listLockBackups,
  readLockBackup,
  writeLock,
} from "../../src/engine/updates/backups.js";

const copyOf = (env: NodeJS.ProcessEnv, id: string) => join(backupsDir(env), id, "files", "flake.lock");

describe("flake.lock backups", () => {
  let root: string;
  let flake: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "nix-deploy-backups-"));
    flake = join(root, "flake");
    mkdirSync(flake);
    env = { XDG_STATE_HOME: join(root, "state") };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("keeps each lock in the state directory with a manifest, and finds the latest or one by id", () => {
    writeFileSync(join(flake, "flake.lock"), "one\n");
    const first = backUpLock(env, flake, "update");
    writeFileSync(join(flake, "flake.lock"), "two\n");
    const second = backUpLock(env, flake, "update");
    expect(listLockBackups(env, flake).map((b) => b.id)).toEqual([first.id, second.id]);
    expect(listLockBackups(env, join(root, "other"))).toEqual([]);
    expect(readLockBackup(env, findLockBackup(env, flake))).toBe("two\n");
    expect(readLockBackup(env, findLockBackup(env, flake, first.id))).toBe("one\n");
    expect(statSync(copyOf(env, first.id)).mode & 0o777).toBe(0o600);
    expect(() => findLockBackup(env, flake, "nope")).toThrow(/no flake.lock backup nope/);
  });

  it("refuses a backup whose bytes no longer match the manifest", () => {
    writeFileSync(join(flake, "flake.lock"), "one\n");
    const backup = backUpLock(env, flake, "update");
    writeFileSync(copyOf(env, backup.id), "tampered\n");
    expect(() => readLockBackup(env, backup)).toThrow(/does not match its manifest entry/);
  });

  it("writes the lock in place keeping the user's file mode, and says when there is nothing to back up", () => {
    expect(() => backUpLock(env, flake, "update")).toThrow(/has no flake.lock/);
    writeFileSync(join(flake, "flake.lock"), "old\n");
    chmodSync(join(flake, "flake.lock"), 0o644);
    writeLock(flake, "new\n");
    expect(readFileSync(join(flake, "flake.lock"), "utf8")).toBe("new\n");
    expect(statSync(join(flake, "flake.lock")).mode & 0o777).toBe(0o644);
  });
});
