import { createHash } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backup, restore } from "../../src/engine/backup/operations.js";
import { backupsDir } from "../../src/engine/backup/store.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { snapshotTree } from "../support/updates.js";

describe("backups of configuration files", () => {
  let root: string;
  let flake: string;
  let engine: Engine;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "nix-deploy-backup-"));
    flake = join(root, "flake");
    mkdirSync(join(flake, "hosts", "p620"), { recursive: true });
    writeFileSync(join(flake, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(flake, "hosts", "p620", "default.nix"), "{ }\n");
    writeFileSync(join(flake, "secret.age"), Buffer.from([0, 1, 2, 255, 254]));
    chmodSync(join(flake, "secret.age"), 0o640);
    engine = createEngine({
      flake,
      logFile: false,
      env: { ...process.env, XDG_STATE_HOME: join(root, "state") },
    });
  });
  afterEach(async () => {
    await engine.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("keeps every file with size, sha256 and mode in a private directory, and restores them byte for byte", async () => {
    const before = snapshotTree(flake);
    const taken = await backup(engine, { reason: "before the upgrade" });
    expect(taken.backup).toMatchObject({ kind: "backup", reason: "before the upgrade", files: 3, bytes: 31 });
    const dir = taken.directory as string;
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(backupsDir(engine.env))).toBe(0o700);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, "files", "hosts", "p620"))).toBe(0o700);
    expect(mode(join(dir, "files", "secret.age"))).toBe(0o600);
    expect(mode(join(dir, "manifest.json"))).toBe(0o600);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ source: flake, reason: "before the upgrade" });
    expect(manifest.files.find((f: { path: string }) => f.path === "secret.age")).toMatchObject({
      size: 5,
      mode: 0o640,
      sha256: createHash("sha256")
        .update(Buffer.from([0, 1, 2, 255, 254]))
        .digest("hex"),
    });

    writeFileSync(join(flake, "flake.nix"), "{ broken");
    writeFileSync(join(flake, "secret.age"), "replaced");
    chmodSync(join(flake, "secret.age"), 0o600);
    rmSync(join(flake, "hosts"), { recursive: true });
    writeFileSync(join(flake, "new.nix"), "{ }\n");
    const restored = await restore(engine, {});
    expect(restored).toMatchObject({ restored: taken.backup?.id, removed: [] });
    // new.nix was not in the backup and is not in its list of absent files: it stays.
    rmSync(join(flake, "new.nix"));
    expect(snapshotTree(flake)).toEqual(before);
    expect(mode(join(flake, "secret.age"))).toBe(0o640);
    // What the restore replaced is itself a backup: the restore can be undone.
    expect((await backup(engine, { list: true })).backups[0]).toMatchObject({
      id: restored.replacedBackup,
      kind: "restore",
    });
  });

  it("backs up one directory of the flake, never follows a link out, and keeps the newest `keep`", async () => {
    symlinkSync(join(root, "state"), join(flake, "hosts", "p620", "escape"));
    const one = await backup(engine, { path: "hosts/p620", keep: 2 });
    expect(one.backup?.files).toBe(1);
    expect(one.skipped).toEqual([{ path: "hosts/p620/escape", reason: "a symbolic link (not followed)" }]);
    await expect(backup(engine, { path: "../outside" })).rejects.toThrow(/outside the flake/);
    const two = await backup(engine, { path: "hosts/p620", keep: 2 });
    const three = await backup(engine, { path: "hosts/p620", keep: 2 });
    expect(three.backups.map((b) => b.id)).toEqual([three.backup?.id, two.backup?.id]);
    expect(readdirSync(backupsDir(engine.env))).not.toContain(one.backup?.id);
  });

  it("reports a damaged manifest or copy by name and writes nothing", async () => {
    const taken = await backup(engine, {});
    const id = taken.backup?.id as string;
    writeFileSync(join(flake, "flake.nix"), "{ changed }\n");
    const now = snapshotTree(flake);
    writeFileSync(join(taken.directory as string, "files", "hosts", "p620", "default.nix"), "{ tampered }\n");
    await expect(restore(engine, { backup: id })).rejects.toThrow(
      /cannot be restored; nothing was changed:\nhosts\/p620\/default.nix: the copy does not match the manifest/,
    );
    writeFileSync(join(taken.directory as string, "manifest.json"), "{ not json");
    await expect(restore(engine, { backup: id })).rejects.toThrow(/the manifest of backup .* is damaged/);
    expect((await backup(engine, { list: true })).damaged.map((d) => d.id)).toEqual([id]);
    await expect(restore(engine, {})).rejects.toThrow(/no backup of/);
    expect(snapshotTree(flake)).toEqual(now);
  });
});
