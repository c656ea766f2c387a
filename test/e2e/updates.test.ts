import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipFleetReason } from "../fleet/harness.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { bumpNixpkgs, snapshotTree } from "../support/updates.js";
import { connectStdio, textOf, useFleetAndServer } from "./client.js";

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
type SmartOut = UpdateOut & {
  verdict: { verdict: string; reasons: string[]; suggestions: Array<{ nix: string }> };
  checks: {
    issues: { status: string; reason?: string; counts: Record<string, number>; top: string[] };
    validation: { ok: boolean };
    build: { ok: boolean };
  };
  confirmedBy?: string;
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

  it("commits a deployed change for an issue, and refuses to commit what was only dry-run", async () => {
    const fleet = context.fleet;
    fleet.editHost("p620", (text) => text.replace('packages = [ "', 'packages = [ "postgresql" "'));
    const dry = await call("deploy", { hosts: ["p620"], dryRun: true });
    expect((dry.structuredContent as { status: string }).status).toBe("succeeded");
    const refused = await context.server.client.callTool({
      name: "commit_changes",
      arguments: { issue: 123, subject: "add postgres monitoring" },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/was a dry run\nWhat to do: commit after a deployment that succeeded/);

    await call("deploy", { hosts: ["p620"] });
    const committed = (
      await call("commit_changes", {
        issue: 123,
        type: "feat",
        scope: "monitoring",
        subject: "add postgres monitoring",
      })
    ).structuredContent as { message: string; files: string[]; pushed: boolean };
    expect(committed.message).toBe("feat(monitoring): add postgres monitoring (#123)");
    // The lock restored earlier differs from the committed one, so it is part of what runs now.
    expect(committed.files.sort()).toEqual(["flake.lock", "hosts/p620.nix"]);
    expect(committed.pushed).toBe(false);
    const status = await execa("git", ["status", "--porcelain"], { cwd: fleet.flakeDir });
    expect(status.stdout.trim()).toBe("");
  });
});

describe.skipIf(skip)("smart update on the simulated fleet, against a fake GitHub", () => {
  let fake: FakeGithub;
  beforeAll(async () => {
    fake = await startFakeGithub();
  });
  afterAll(async () => {
    await fake?.stop();
  });
  const context = useFleetAndServer(undefined, () => ({ NIX_DEPLOY_GITHUB_API: fake.url }));
  const smart = async (args: Record<string, unknown>, server = context.server) => {
    const result = await server.client.callTool({ name: "smart_update", arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as SmartOut;
  };
  const systems = async () =>
    Promise.all(
      ["p620", "p510", "razer", "samsung"].map(async (h) =>
        (await context.fleet.onHost(h, "readlink /run/current-system")).stdout.trim(),
      ),
    );

  it("blocks on a recorded critical issue for a changing package, confirmed or not, and touches nothing", async () => {
    // systemd 256.8 has a recorded regression: "fails to boot with LUKS root on UEFI".
    await bumpNixpkgs(context.fleet, { systemd: "256.8" });
    const tree = snapshotTree(context.fleet.flakeDir);
    const running = await systems();
    for (const confirm of [false, true]) {
      const out = await smart({ since: "2026-11-01", confirm });
      expect(out.status).toBe("blocked");
      expect(out.verdict.verdict).toBe("block");
      expect(out.verdict.reasons[0]).toMatch(/^critical: #361592 systemd 256\.8: fails to boot/);
      expect(out.verdict.suggestions[0]?.nix).toMatch(/^inputs\.nixpkgs\.url = /);
      expect(out.checks.issues).toMatchObject({ status: "ok", counts: { critical: 1 } });
      expect(out.checks.validation.ok).toBe(true);
      expect(out.checks.build.ok).toBe(true);
      expect(out.changes.map((c) => c.packageChanges)).toEqual(Array(4).fill(["systemd: 254.6 → 256.8"]));
      expect(out.deployment).toBeUndefined();
      expect(snapshotTree(context.fleet.flakeDir)).toEqual(tree);
    }
    expect(await systems()).toEqual(running);
  });

  it("with GitHub failing: degraded, never proceeds on its own; asks the user, and applies only on a yes", async () => {
    fake.fault = { kind: "error", status: 500 };
    const tree = snapshotTree(context.fleet.flakeDir);
    const waiting = await smart({ since: "2026-11-01", refresh: true });
    expect(waiting.status).toBe("needs-confirmation");
    expect(waiting.verdict.verdict).toBe("confirm");
    expect(waiting.checks.issues.status).toBe("unavailable");
    expect(waiting.verdict.reasons.join("\n")).toMatch(/issue check is unavailable/);
    expect(waiting.next).toMatch(/confirm: true/);
    expect(snapshotTree(context.fleet.flakeDir)).toEqual(tree);

    const questions: string[] = [];
    let answer = false;
    const asking = await connectStdio(
      ["--flake", context.fleet.flakeDir],
      { ...context.fleet.env, NIX_DEPLOY_GITHUB_API: fake.url },
      {
        elicit: (params) => {
          questions.push(params.message);
          return { action: "accept", content: { confirm: answer } };
        },
      },
    );
    try {
      // confirm: true comes from the model; where the user can be asked, the user's no wins.
      const declined = await smart({ since: "2026-11-01", refresh: true, confirm: true }, asking);
      expect(declined.status).toBe("declined");
      expect(questions[0]).toMatch(/^Apply the flake update \(nixpkgs\) and deploy it\?/);
      expect(questions[0]).toMatch(/p620: systemd: 254\.6 → 256\.8/);
      expect(snapshotTree(context.fleet.flakeDir)).toEqual(tree);

      answer = true;
      const applied = await smart({ since: "2026-11-01", refresh: true, hosts: ["p510"] }, asking);
      expect(applied).toMatchObject({ status: "updated", confirmedBy: "user" });
      expect(applied.deployment?.hosts.map((h) => [h.host, h.outcome])).toEqual([["p510", "deployed"]]);
      expect(questions).toHaveLength(2);
    } finally {
      await asking.close();
      fake.fault = undefined;
    }
  });

  it("proceeds on its own when nothing is known against the changing packages", async () => {
    await bumpNixpkgs(context.fleet, { prometheus: "2.49.0" });
    const out = await smart({ since: "2026-11-01", hosts: ["p620", "samsung"] });
    expect(out.verdict).toMatchObject({ verdict: "proceed", suggestions: [] });
    expect(out).toMatchObject({ status: "updated", confirmedBy: "verdict" });
    expect(out.changes).toEqual([
      { host: "p620", packageChanges: ["prometheus: 2.48.0 → 2.49.0"], changeCount: 1 },
      { host: "samsung", packageChanges: [], changeCount: 0 },
    ]);
    expect(out.deployment?.hosts.map((h) => [h.host, h.outcome])).toEqual([
      ["p620", "deployed"],
      ["samsung", "deployed"],
    ]);
  });
});
