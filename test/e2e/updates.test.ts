import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { skipFleetReason } from "../fleet/harness.js";
import { bumpNixpkgs, snapshotTree } from "../support/updates.js";
import { textOf, useFleetAndServer } from "./client.js";

type PreviewOut = {
  status: string;
  mode: string;
  inputs: Array<{ input: string; oldRev?: string; newRev?: string; oldDate?: string; newDate?: string }>;
  hosts: Array<{
    host: string;
    packageChanges: string[];
    added: string[];
    removed: string[];
    changeCount: number;
    closureSizeDelta?: number;
    error?: string;
  }>;
};

type Deployment = {
  status: string;
  hosts: Array<{ host: string; outcome: string; generationBefore?: number; generationAfter?: number }>;
};
type UpdateOut = {
  status: string;
  summary: string;
  lockBackup?: string;
  changes: Array<{ host: string; packageChanges: string[] }>;
  deployment?: Deployment;
  commit?: { message: string; commit: string };
  commitError?: string;
  verdict?: { verdict: string; reasons: string[] };
  next: string;
};
type RestoreOut = { status: string; restored: string; replacedLockBackup?: string; deployment?: Deployment };

const skip = skipFleetReason();

describe.skipIf(skip)("flake updates on the simulated fleet", () => {
  const context = useFleetAndServer();
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await context.server.client.callTool({ name, arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result;
  };

  it("previews a firefox bump: exactly that change where firefox is, nothing elsewhere, nothing written", async () => {
    await bumpNixpkgs(context.fleet, { firefox: "121.0" });
    const before = snapshotTree(context.fleet.flakeDir);
    const result = await call("preview_updates", { hosts: ["all"] });
    const out = result.structuredContent as PreviewOut;
    expect(out.status).toBe("succeeded");
    expect(out.inputs).toHaveLength(1);
    expect(out.inputs[0]).toMatchObject({ input: "nixpkgs" });
    expect(out.inputs[0]?.newRev).toMatch(/^[0-9a-f]{40}$/);
    expect(out.inputs[0]?.newRev).not.toBe(out.inputs[0]?.oldRev);
    expect(out.inputs[0]?.newDate).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const byHost = Object.fromEntries(out.hosts.map((h) => [h.host, h]));
    for (const host of ["p620", "razer"]) {
      expect(byHost[host]).toMatchObject({
        packageChanges: ["firefox: 120.0 → 121.0"],
        added: [],
        removed: [],
        changeCount: 1,
      });
    }
    for (const host of ["p510", "samsung"]) {
      expect(byHost[host]).toMatchObject({ packageChanges: [], added: [], removed: [], changeCount: 0 });
    }
    expect(snapshotTree(context.fleet.flakeDir)).toEqual(before);
    // A few hundred tokens per host at most.
    expect(JSON.stringify(result.content).length).toBeLessThan(4 * 4 * 400);

    const evaluated = (
      await call("preview_updates", { hosts: ["p620", "p510"], inputs: ["nixpkgs"], evalOnly: true })
    ).structuredContent as PreviewOut;
    expect(evaluated.mode).toBe("eval");
    expect(evaluated.hosts.map((h) => [h.host, h.packageChanges])).toEqual([
      ["p620", ["firefox: 120.0 → 121.0"]],
      ["p510", []],
    ]);
    expect(snapshotTree(context.fleet.flakeDir)).toEqual(before);
  });

  it("updates the lock and deploys it, commits it for an issue, then restores the old lock and systems", async () => {
    const fleet = context.fleet;
    const lockFile = join(fleet.flakeDir, "flake.lock");
    const oldLock = readFileSync(lockFile, "utf8");
    const updated = (await call("update", { hosts: ["all"], inputs: ["nixpkgs"], commit: { issue: 42 } }))
      .structuredContent as UpdateOut;
    expect(updated.status).toBe("updated");
    expect(updated.lockBackup).toBeTruthy();
    expect(
      updated.deployment?.hosts.map((h) => [h.host, h.outcome, h.generationBefore, h.generationAfter]),
    ).toEqual([
      ["p510", "unchanged", 1, 1],
      ["p620", "deployed", 1, 2],
      ["razer", "deployed", 1, 2],
      ["samsung", "unchanged", 1, 1],
    ]);
    expect(updated.changes.find((c) => c.host === "razer")?.packageChanges).toEqual([
      "firefox: 120.0 → 121.0",
    ]);
    expect(readFileSync(lockFile, "utf8")).not.toBe(oldLock);
    expect(updated.commitError).toBeUndefined();
    expect(updated.commit?.message).toBe("chore(flake): update nixpkgs (#42)");
    const log = await execa("git", ["log", "-1", "--format=%s", "--name-only"], { cwd: fleet.flakeDir });
    expect(log.stdout.trim().split("\n").filter(Boolean)).toEqual([
      "chore(flake): update nixpkgs (#42)",
      "flake.lock",
    ]);
    for (const host of ["p620", "razer"]) {
      expect((await fleet.onHost(host, "readlink /run/current-system")).stdout.trim()).not.toBe(
        fleet.hosts.get(host)?.initialSystem,
      );
    }

    const restored = (await call("restore_lock", { redeploy: true })).structuredContent as RestoreOut;
    expect(restored).toMatchObject({ status: "restored", restored: updated.lockBackup });
    expect(readFileSync(lockFile, "utf8")).toBe(oldLock);
    for (const host of ["p620", "p510", "razer", "samsung"]) {
      expect((await fleet.onHost(host, "readlink /run/current-system")).stdout.trim()).toBe(
        fleet.hosts.get(host)?.initialSystem,
      );
    }
    expect(restored.deployment?.hosts.map((h) => [h.host, h.outcome, h.generationAfter])).toEqual([
      ["p510", "unchanged", 1],
      ["p620", "deployed", 3],
      ["razer", "deployed", 3],
      ["samsung", "unchanged", 1],
    ]);
    // The replaced lock was backed up too: restoring it again is one call.
    expect(restored.replacedLockBackup).toBeTruthy();
    const missing = await context.server.client.callTool({
      name: "restore_lock",
      arguments: { backup: "nope" },
    });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/no flake.lock backup nope[\s\S]*What to do: backups of this flake: /);
  });
});
