/**
 * Every input field of every tool reaches the engine and changes what the user sees: each test
 * calls a tool through the MCP server (in memory, over the real engine, real Nix and git) with and
 * without a field, and compares the results. The hosts here never answer (see offline-fleet.ts),
 * so only what shows before a host is contacted is tested here; what only a host can show is in
 * test/e2e/tool-fields-fleet.test.ts. test/support/tool-fields.ts lists which test covers which
 * field, and tool-fields-guard.test.ts fails when a tool gains a field no test covers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import { createEngine } from "../../src/engine/engine.js";
import type { Report } from "../../src/engine/report/report.js";
import { createServer } from "../../src/server.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { type OfflineFleet, offlineFleet } from "../support/offline-fleet.js";

interface Connected {
  call<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** The text of the tool error the call must end in. */
  fail(name: string, args?: Record<string, unknown>): Promise<string>;
  report(id: string): Promise<Report>;
  close(): Promise<void>;
}

/** The MCP server over a real engine on `flake`, with a client attached in memory. */
async function connect(flake: string, env: Record<string, string>): Promise<Connected> {
  const engine = createEngine({ flake, env: { ...process.env, LOG_LEVEL: "warn", ...env }, logFile: false });
  const server = createServer(engine);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "tool-fields", version: "0.0.0" });
  await client.connect(clientSide);
  const invoke = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
  const textOf = (result: Awaited<ReturnType<typeof invoke>>) =>
    (result.content as Array<{ text?: string }>).map((c) => c.text ?? "").join("\n");
  return {
    async call(name, args = {}) {
      const result = await invoke(name, args);
      if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
      return result.structuredContent as never;
    },
    async fail(name, args = {}) {
      const result = await invoke(name, args);
      expect(result.isError, `${name} should fail: ${textOf(result)}`).toBe(true);
      return textOf(result);
    },
    async report(id) {
      const { contents } = await client.readResource({ uri: `nix-deploy://reports/${id}/json` });
      return JSON.parse(String((contents[0] as { text: string }).text)) as Report;
    },
    async close() {
      await client.close();
      await server.close();
      await engine.close();
    },
  };
}

let fleet: OfflineFleet;
let fake: FakeGithub;
let tools: Connected;

beforeAll(async () => {
  fleet = await offlineFleet();
  fake = await startFakeGithub();
  // Some analysis paths read the process's environment (the scan's backups): keep them in the scratch.
  process.env.XDG_STATE_HOME = fleet.env.XDG_STATE_HOME;
  tools = await connect(fleet.flakeDir, { ...fleet.env, NIX_DEPLOY_GITHUB_API: fake.url });
  // Upstream moved: systemd 256.7 → 256.8 in alpha, hello 2.12 → 2.12.1 in beta; the lock has the old.
  await fleet.bump("alpha", "256.8");
  await fleet.bump("beta", "2.12.1");
});

afterAll(async () => {
  await tools?.close();
  await fake?.stop();
  fleet?.remove();
});

/** Puts back the committed flake.lock after a test that applied an update. */
const resetLock = () => fleet.git("checkout", "--", "flake.lock");

type HostsOut = { hosts: Array<{ host: string; error?: string; outcome?: string }> };
const hostNames = (out: HostsOut) => out.hosts.map((h) => h.host);

describe("fleet_list", () => {
  it("fleet_list.probe: false lists without contacting the hosts", async () => {
    type Out = { summary: string; hosts: Array<{ name: string; reachable?: boolean }> };
    const probed = await tools.call<Out>("fleet_list", {});
    expect(probed.summary).toBe("2 hosts, 0 answering; not answering: a, b");
    expect(probed.hosts.map((h) => h.reachable)).toEqual([false, false]);
    const listed = await tools.call<Out>("fleet_list", { probe: false });
    expect(listed.summary).toBe("2 hosts (not probed)");
    expect(listed.hosts.map((h) => h.reachable)).toEqual([undefined, undefined]);
  });
});

describe("host_status", () => {
  it("host_status.host: the named host, one host only", async () => {
    const b = await tools.call("host_status", { host: "b" });
    expect(b).toMatchObject({ host: "b", reachable: false, reason: expect.stringMatching(/refused/) });
    expect(await tools.fail("host_status", { host: "c" })).toBe(
      'unknown host "c"\nWhat to do: known hosts: a, b',
    );
    // "all" is a valid host name, but not one host: it used to describe whichever host came first.
    expect(await tools.fail("host_status", { host: "all" })).toBe(
      'the host is one host, not "all"\nWhat to do: known hosts: a, b',
    );
  });
});

describe("plan", () => {
  it("plan.request: the request decides hosts, mode and action", async () => {
    expect(await tools.call("plan", { request: "Fast deploy to a" })).toMatchObject({
      action: "deploy",
      mode: "fast",
      hosts: ["a"],
    });
    expect(await tools.call("plan", { request: "Preview updates for @db" })).toMatchObject({
      action: "preview",
      mode: "standard",
      hosts: ["b"],
    });
    expect(await tools.fail("plan", { request: "Deploy to c" })).toMatch(/"c".*\nWhat to do: .*a, b/);
  });
});

describe("preflight", () => {
  it("preflight.hosts: only the selected hosts are checked", async () => {
    const out = await tools.call<HostsOut>("preflight", { hosts: ["@web"] });
    expect(hostNames(out)).toEqual(["a"]);
    expect(hostNames(await tools.call<HostsOut>("preflight", {}))).toEqual(["a", "b"]);
  });

  it("preflight.minFreeGiB: the free space asked for decides the disk check", async () => {
    type Out = { flake: Array<{ check: string; status: string; detail: string }> };
    const disk = (out: Out) => out.flake.find((c) => c.check === "local disk");
    const little = await tools.call<Out>("preflight", { hosts: ["a"], minFreeGiB: 0.001 });
    expect(disk(little)?.status).toBe("pass");
    const much = await tools.call<Out>("preflight", { hosts: ["a"], minFreeGiB: 1_000_000_000 });
    expect(disk(much)).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/ GiB free in \/nix, below 1000000000\.0 GiB$/),
    });
  });
});

describe("test_build", () => {
  it("test_build.hosts: only the selected hosts are built", async () => {
    type Out = HostsOut & { hosts: Array<{ host: string; ok: boolean; storePath?: string }> };
    const out = await tools.call<Out>("test_build", { hosts: ["b"] });
    expect(out.hosts).toMatchObject([{ host: "b", ok: true }]);
    expect(out.hosts[0]?.storePath).toMatch(/-nixos-system-b$/);
  });

  it("test_build.buildHost: the build goes to that host, which must be one host", async () => {
    const out = await tools.call<HostsOut>("test_build", { hosts: ["a"], buildHost: "b" });
    // b never answers: the build was sent there rather than made here.
    expect(out.hosts[0]?.error).toMatch(/^copying the derivation to b failed/);
    expect(await tools.fail("test_build", { hosts: ["a"], buildHost: "@db" })).toBe(
      'the build host is one host, not "@db"\nWhat to do: known hosts: a, b',
    );
  });
});

describe("deploy", () => {
  // Every deploy here fails at the probe, as the hosts never answer: what is asked shows in the
  // result and in the deployment's report all the same.
  it("deploy.hosts: only the selected hosts are deployed", async () => {
    const out = await tools.call<DeployResult>("deploy", { hosts: ["@db"], mode: "emergency" });
    expect(out.hosts.map((h) => [h.host, h.outcome])).toEqual([["b", "failed"]]);
    expect(out.hosts[0]?.error).toMatch(/^b does not answer over ssh/);
  });

  it("deploy.mode: the mode decides the checks before any host", async () => {
    const fast = await tools.call<DeployResult>("deploy", { hosts: ["a"], mode: "fast" });
    expect([fast.mode, fast.checks.map((c) => c.check)]).toEqual(["fast", ["syntax"]]);
    const emergency = await tools.call<DeployResult>("deploy", { hosts: ["a"], mode: "emergency" });
    expect([emergency.mode, emergency.checks]).toEqual(["emergency", []]);
  });

  it("deploy.goal: the goal is the deployment's, and dry-activate is a dry run", async () => {
    const boot = await tools.call<DeployResult>("deploy", { hosts: ["a"], mode: "emergency", goal: "boot" });
    expect([boot.goal, boot.dryRun]).toEqual(["boot", false]);
    expect((await tools.report(boot.deploymentId)).goal).toBe("boot");
    const dry = await tools.call<DeployResult>("deploy", {
      hosts: ["a"],
      mode: "emergency",
      goal: "dry-activate",
    });
    expect([dry.goal, dry.dryRun]).toEqual(["dry-activate", true]);
    expect(
      await tools.fail("deploy", { hosts: ["a"], mode: "emergency", goal: "dry-activate", dryRun: false }),
    ).toMatch(
      /^goal dry-activate only shows what activation would do, so it cannot be run with dryRun: false/,
    );
  });

  it("deploy.dryRun: the deployment is a dry run", async () => {
    const out = await tools.call<DeployResult>("deploy", { hosts: ["a"], mode: "emergency", dryRun: true });
    expect(out.dryRun).toBe(true);
    expect((await tools.report(out.deploymentId)).dryRun).toBe(true);
    // What only an activation uses is refused in a dry run, not accepted and ignored.
    expect(
      await tools.fail("deploy", { hosts: ["a"], mode: "emergency", dryRun: true, confirmTimeoutSec: 9 }),
    ).toContain("confirmTimeoutSec applies only to an activation, and a dry run activates nothing");
    expect(
      await tools.fail("deploy", { hosts: ["a"], goal: "dry-activate", installBootloader: true }),
    ).toContain("installBootloader applies only to an activation");
  });

  // Fields whose effect a deployment's report shows: the value given, and the default without it.
  const reported = [
    ["deploy.confirmTimeoutSec: the confirmation window is the deployment's", "confirmTimeoutSec", 7, 30],
    [
      "deploy.substituteOnDestination: the deployment's record keeps it",
      "substituteOnDestination",
      true,
      false,
    ],
  ] as const;
  for (const [title, field, value, byDefault] of reported) {
    it(title, async () => {
      const given = await tools.call<DeployResult>("deploy", {
        hosts: ["a"],
        mode: "emergency",
        [field]: value,
      });
      expect((await tools.report(given.deploymentId))[field]).toBe(value);
      const without = await tools.call<DeployResult>("deploy", { hosts: ["a"], mode: "emergency" });
      expect((await tools.report(without.deploymentId))[field]).toBe(byDefault);
    });
  }

  it("deploy.resume: runs the named deployment again with its own settings, and nothing else", async () => {
    const first = await tools.call<DeployResult>("deploy", {
      hosts: ["b"],
      mode: "fast",
      confirmTimeoutSec: 9,
    });
    const again = await tools.call<DeployResult>("deploy", { resume: first.deploymentId });
    expect(again).toMatchObject({ deploymentId: first.deploymentId, mode: "fast" });
    expect(again.hosts.map((h) => [h.host, h.outcome])).toEqual([["b", "failed"]]);
    const report = await tools.report(first.deploymentId);
    expect(report.confirmTimeoutSec).toBe(9);
    // The host's phases of both runs: the resume really ran it again.
    expect(report.hosts[0]?.phases.filter((p) => p.name === "probe")).toHaveLength(2);
    expect(await tools.fail("deploy", { resume: first.deploymentId, hosts: ["a"], mode: "fast" })).toBe(
      `resume continues deployment ${first.deploymentId} with the settings it started with; hosts, mode cannot change them\n` +
        "What to do: call deploy with resume alone, or start a new deployment without resume",
    );
    expect(await tools.fail("deploy", { resume: "20200101-000000-abcdef" })).toMatch(
      new RegExp(
        `^no deployment 20200101-000000-abcdef\\nWhat to do: unfinished deployments, newest first: ${first.deploymentId}`,
      ),
    );
  });

  it("deploy.planId: the plan's hosts and mode run, and arguments that differ are refused", async () => {
    const plan = await tools.call<{ planId: string }>("plan", { request: "Fast deploy to b" });
    const out = await tools.call<DeployResult>("deploy", { planId: plan.planId });
    expect([out.mode, out.hosts.map((h) => h.host)]).toEqual(["fast", ["b"]]);
    expect(await tools.fail("deploy", { planId: plan.planId, hosts: ["a"], mode: "fast" })).toBe(
      `plan ${plan.planId} fixes what runs, and these arguments differ from it: hosts a (the plan's: b)\n` +
        "What to do: leave them out to run the plan, or make a new plan for what you want",
    );
    expect(await tools.fail("deploy", { planId: "plan-20200101T000000-abcdef" })).toMatch(
      new RegExp(
        `^no plan plan-20200101T000000-abcdef\\nWhat to do: recent plans, newest first: ${plan.planId}, `,
      ),
    );
  });
});

describe("rollback", () => {
  it("rollback.hosts: only the selected hosts are rolled back", async () => {
    const out = await tools.call<HostsOut>("rollback", { hosts: ["@web"] });
    expect(out.hosts).toMatchObject([{ host: "a", outcome: "failed" }]);
    expect(out.hosts[0]?.error).toMatch(/^a does not answer over ssh/);
  });
});

describe("check_nixpkgs_issues", () => {
  type Out = {
    since: string;
    sinceFrom: string;
    searches: { total: number; fromCache: number; requests: number };
    matches: Record<"critical" | "high" | "medium", Array<{ number: number; fixed?: string }>>;
  };
  const numbers = (out: Out) => [...out.matches.critical, ...out.matches.high].map((m) => m.number);
  const systemd = { name: "systemd", oldVersion: "256.7", newVersion: "256.8" };

  it("check_nixpkgs_issues.packages: the issues are those of the named packages", async () => {
    expect(
      numbers(await tools.call<Out>("check_nixpkgs_issues", { packages: [systemd], since: "2026-11-01" })),
    ).toEqual([361592]);
    expect(
      numbers(await tools.call<Out>("check_nixpkgs_issues", { packages: ["hello"], since: "2026-11-01" })),
    ).toEqual([]);
  });

  it("check_nixpkgs_issues.since: issues updated before it are not searched", async () => {
    const from = await tools.call<Out>("check_nixpkgs_issues", { packages: [systemd], since: "2026-11-01" });
    expect([from.since, from.sinceFrom]).toEqual(["2026-11-01", "input"]);
    const later = await tools.call<Out>("check_nixpkgs_issues", { packages: [systemd], since: "2026-11-21" });
    expect([later.since, numbers(later)]).toEqual(["2026-11-21", []]);
  });

  it("check_nixpkgs_issues.newLockDate: issues closed before it count as fixed", async () => {
    const args = { packages: [{ name: "systemd" }], since: "2026-11-01" };
    const medium = (out: Out) => out.matches.medium.find((m) => m.number === 357777);
    expect(medium(await tools.call<Out>("check_nixpkgs_issues", args))?.fixed).toBeUndefined();
    const fixed = await tools.call<Out>("check_nixpkgs_issues", { ...args, newLockDate: "2026-11-20" });
    expect(medium(fixed)?.fixed).toMatch(/closed 2026-11-10/);
  });

  it("check_nixpkgs_issues.refresh: asks GitHub again instead of the cache", async () => {
    const args = { packages: ["hello", "ripgrep"], since: "2026-10-15" };
    const first = await tools.call<Out>("check_nixpkgs_issues", args);
    expect(first.searches.requests).toBeGreaterThan(0);
    const cached = await tools.call<Out>("check_nixpkgs_issues", args);
    expect([cached.searches.requests, cached.searches.fromCache]).toEqual([0, cached.searches.total]);
    const refreshed = await tools.call<Out>("check_nixpkgs_issues", { ...args, refresh: true });
    expect([refreshed.searches.requests, refreshed.searches.fromCache]).toEqual([first.searches.requests, 0]);
  });
});

describe("preview_updates", () => {
  type Out = {
    mode: string;
    inputs: Array<{ input: string }>;
    hosts: Array<{ host: string; packageChanges: string[]; closureSizeDelta?: number }>;
  };
  const moved = (out: Out) => out.inputs.map((i) => i.input);

  it("preview_updates.hosts: only the selected hosts are previewed", async () => {
    const out = await tools.call<Out>("preview_updates", { hosts: ["b"], evalOnly: true });
    expect(out.hosts.map((h) => h.host)).toEqual(["b"]);
  });

  it("preview_updates.inputs: only the named inputs move, and a name that is no input is an error", async () => {
    const all = await tools.call<Out>("preview_updates", { hosts: ["a"] });
    expect(moved(all)).toEqual(["alpha", "beta"]);
    expect(all.hosts[0]?.packageChanges).toEqual(["hello: 2.12 → 2.12.1", "systemd: 256.7 → 256.8"]);
    const alpha = await tools.call<Out>("preview_updates", { hosts: ["a"], inputs: ["alpha"] });
    expect(moved(alpha)).toEqual(["alpha"]);
    expect(alpha.hosts[0]?.packageChanges).toEqual(["systemd: 256.7 → 256.8"]);
    // Nix only warns about it; the preview used to say that every input was up to date.
    expect(await tools.fail("preview_updates", { inputs: ["nosuch"] })).toBe(
      '"nosuch" is not an input of the flake\nWhat to do: its inputs: alpha, beta',
    );
  });

  it("preview_updates.evalOnly: compares derivations without building", async () => {
    const built = await tools.call<Out>("preview_updates", { hosts: ["a"], inputs: ["beta"] });
    expect([built.mode, typeof built.hosts[0]?.closureSizeDelta]).toEqual(["build", "number"]);
    const evaluated = await tools.call<Out>("preview_updates", {
      hosts: ["a"],
      inputs: ["beta"],
      evalOnly: true,
    });
    expect([evaluated.mode, evaluated.hosts[0]?.closureSizeDelta]).toEqual(["eval", undefined]);
    expect(evaluated.hosts[0]?.packageChanges).toEqual(["hello: 2.12 → 2.12.1"]);
  });
});

type UpdateOut = {
  status: string;
  inputs: Array<{ input: string }>;
  lockBackup?: string;
  deployment?: { deploymentId: string; hosts: Array<{ host: string; outcome: string }> };
};

describe("update", () => {
  it("update.hosts, inputs, mode, goal, confirmTimeoutSec: the update and its deployment are the ones asked for", async () => {
    try {
      const out = await tools.call<UpdateOut>("update", {
        hosts: ["a"],
        inputs: ["beta"],
        mode: "emergency",
        goal: "boot",
        confirmTimeoutSec: 11,
      });
      expect(out.inputs.map((i) => i.input)).toEqual(["beta"]);
      expect(out.lockBackup).toBeTruthy();
      // The lock was applied; the deployment then found a never answering.
      expect(out.status).toBe("failed");
      expect(out.deployment?.hosts.map((h) => [h.host, h.outcome])).toEqual([["a", "failed"]]);
      const report = await tools.report(out.deployment?.deploymentId as string);
      expect([report.mode, report.goal, report.confirmTimeoutSec]).toEqual(["emergency", "boot", 11]);
      expect(await tools.fail("update", { inputs: ["nosuch"] })).toBe(
        '"nosuch" is not an input of the flake\nWhat to do: its inputs: alpha, beta',
      );
    } finally {
      await resetLock();
    }
  });
});

describe("restore_lock", () => {
  it("restore_lock.backup, redeploy, hosts, mode, goal, confirmTimeoutSec: the chosen backup, deployed as asked", async () => {
    try {
      // Two updates, two backups of the committed lock: the older one and the latest.
      const update = (input: string) =>
        tools.call<UpdateOut>("update", { hosts: ["a"], inputs: [input], mode: "emergency" });
      const older = (await update("beta")).lockBackup as string;
      await resetLock();
      const backup = (await update("alpha")).lockBackup as string;
      await resetLock();
      expect(older).not.toBe(backup);
      // Settings for a deployment that does not happen are refused, not ignored.
      expect(await tools.fail("restore_lock", { backup, mode: "fast", goal: "test" })).toBe(
        "mode, goal set how the restored lock is deployed, and nothing is deployed without redeploy: true\n" +
          "What to do: add redeploy: true to deploy the restored lock, or leave them out to only restore flake.lock",
      );
      type Out = { status: string; restored: string; deployment?: UpdateOut["deployment"] };
      // The latest backup by default, or the one named.
      const latest = await tools.call<Out>("restore_lock", {});
      expect([latest.restored, latest.deployment]).toEqual([backup, undefined]);
      const named = await tools.call<Out>("restore_lock", { backup: older });
      expect([named.restored, named.deployment]).toEqual([older, undefined]);
      const redeployed = await tools.call<Out>("restore_lock", {
        backup,
        redeploy: true,
        hosts: ["b"],
        mode: "fast",
        goal: "test",
        confirmTimeoutSec: 13,
      });
      expect(redeployed.deployment?.hosts.map((h) => h.host)).toEqual(["b"]);
      const report = await tools.report(redeployed.deployment?.deploymentId as string);
      expect([report.mode, report.goal, report.confirmTimeoutSec]).toEqual(["fast", "test", 13]);
      expect(await tools.fail("restore_lock", { backup: "nope" })).toMatch(
        new RegExp(`^no flake.lock backup nope[\\s\\S]*What to do: backups of this flake: .*${backup}`),
      );
    } finally {
      await resetLock();
    }
  });
});

describe("smart_update", () => {
  type Out = UpdateOut & {
    verdict: { verdict: string; reasons: string[] };
    checks: { issues: { status: string } };
  };

  it("smart_update.hosts, inputs, since, mode, goal, confirmTimeoutSec: the issue check and the deployment are the ones asked for", async () => {
    try {
      const args = {
        hosts: ["a"],
        inputs: ["alpha"],
        mode: "emergency",
        goal: "test",
        confirmTimeoutSec: 17,
      };
      // systemd 256.8 has a critical issue updated on 2026-11-20: found when searching since before it.
      const blocked = await tools.call<Out>("smart_update", { ...args, since: "2026-11-01" });
      expect(blocked.status).toBe("blocked");
      expect(blocked.verdict.reasons[0]).toMatch(/^critical: #361592 systemd 256\.8/);
      const proceeded = await tools.call<Out>("smart_update", { ...args, since: "2026-11-21" });
      expect(proceeded.verdict.verdict).toBe("proceed");
      expect(proceeded.inputs.map((i) => i.input)).toEqual(["alpha"]);
      expect(proceeded.deployment?.hosts.map((h) => h.host)).toEqual(["a"]);
      const report = await tools.report(proceeded.deployment?.deploymentId as string);
      expect([report.mode, report.goal, report.confirmTimeoutSec]).toEqual(["emergency", "test", 17]);
    } finally {
      await resetLock();
    }
  });

  it("smart_update.refresh: asks GitHub again instead of the cache", async () => {
    const args = { hosts: ["a"], inputs: ["alpha"], since: "2026-11-01" };
    try {
      expect((await tools.call<Out>("smart_update", args)).checks.issues.status).toBe("ok");
      // The answers are cached now: GitHub failing changes nothing without refresh.
      fake.fault = { kind: "error", status: 500 };
      const cached = await tools.call<Out>("smart_update", args);
      expect([cached.status, cached.checks.issues.status]).toEqual(["blocked", "ok"]);
      const refreshed = await tools.call<Out>("smart_update", { ...args, refresh: true });
      expect([refreshed.status, refreshed.checks.issues.status]).toEqual([
        "needs-confirmation",
        "unavailable",
      ]);
    } finally {
      fake.fault = undefined;
      await resetLock();
    }
  });
});

describe("the analysis tools", () => {
  let root: string;
  let syntax: Connected;
  let source: Connected;

  /** A git repository: `old.nix` in the first commit, `mid.nix` in the second, `new.nix` untracked. */
  const repository = async (dir: string, files: Record<"old" | "mid" | "new", string>) => {
    mkdirSync(dir, { recursive: true });
    const git = (...args: string[]) =>
      execa("git", args, { cwd: dir, env: { ...process.env, ...fleet.env } });
    await git("init", "-q", "-b", "main");
    for (const name of ["old", "mid"] as const) {
      writeFileSync(join(dir, `${name}.nix`), files[name]);
      await git("add", "-A");
      await git("commit", "-q", "-m", name);
    }
    writeFileSync(join(dir, "new.nix"), files.new);
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "nix-deploy-fields-analysis-"));
    await repository(join(root, "syntax"), { old: "{ a = ; }\n", mid: "{ b = ; }\n", new: "{ c = ; }\n" });
    await repository(join(root, "source"), {
      old: '{ lib, ... }: { services.openssh.settings.PermitRootLogin = "yes"; x = lib.mkIf true 1; }\n',
      mid: '{ users.users.alice.initialPassword = "hunter2"; security.sudo.wheelNeedsPassword = false; }\n',
      new: "{ lib, ... }: { networking.firewall.allowedTCPPorts = [ 8080 ]; y = lib.mkIf true 2; }\n",
    });
    syntax = await connect(join(root, "syntax"), fleet.env);
    source = await connect(join(root, "source"), fleet.env);
  });

  afterAll(async () => {
    await syntax?.close();
    await source?.close();
    rmSync(root, { recursive: true, force: true });
  });

  type SyntaxOut = { filesChecked: number; errorCount: number; errors: Array<{ file: string }> };
  type ScanOut = { filesScanned: number; byCode: Record<string, number>; findings: unknown[] };
  type AuditOut = {
    source: {
      filesScanned: number;
      counts: { block: number; warn: number };
      findings: Array<{ file: string }>;
    };
    hosts: unknown[];
    summary: string;
  };
  const files = (list: Array<{ file: string }>) => [...new Set(list.map((f) => f.file))].sort();

  it("validate_syntax.changed, since: only the files changed in the working tree, or since a ref", async () => {
    const all = await syntax.call<SyntaxOut>("validate_syntax", {});
    expect(files(all.errors)).toEqual(["mid.nix", "new.nix", "old.nix"]);
    const changed = await syntax.call<SyntaxOut>("validate_syntax", { changed: true });
    expect(files(changed.errors)).toEqual(["new.nix"]);
    const since = await syntax.call<SyntaxOut>("validate_syntax", { since: "HEAD~1" });
    expect(files(since.errors)).toEqual(["mid.nix", "new.nix"]);
  });

  it("validate_syntax.limit: lists that many errors, and counts them all", async () => {
    const out = await syntax.call<SyntaxOut>("validate_syntax", { limit: 1 });
    expect([out.errors.length, out.errorCount]).toEqual([1, 3]);
  });

  it("scan_antipatterns.changed, since, limit, rules: the files, the number and the rules asked for", async () => {
    const all = await source.call<ScanOut>("scan_antipatterns", {});
    expect(all.filesScanned).toBe(3);
    expect(all.byCode).toMatchObject({ "mkif-true": 2, "plain-password": 1 });
    expect((await source.call<ScanOut>("scan_antipatterns", { changed: true })).filesScanned).toBe(1);
    expect((await source.call<ScanOut>("scan_antipatterns", { since: "HEAD~1" })).filesScanned).toBe(2);
    const limited = await source.call<ScanOut>("scan_antipatterns", { limit: 1 });
    expect(limited.findings).toHaveLength(1);
    const passwords = await source.call<ScanOut>("scan_antipatterns", { rules: ["plain-password"] });
    expect(passwords.byCode).toEqual({ "plain-password": 1 });
  });

  it("security_audit.changed, since, limit, evaluate: the source layer of the files asked for", async () => {
    const all = await source.call<AuditOut>("security_audit", { evaluate: false });
    expect(files(all.source.findings)).toEqual(["mid.nix", "new.nix", "old.nix"]);
    // evaluate: false is the source layer alone: no host, and the summary says nothing of hosts.
    expect([all.hosts, all.summary]).toEqual([[], expect.stringMatching(/^source: .* in 3 files$/)]);
    const changed = await source.call<AuditOut>("security_audit", { evaluate: false, changed: true });
    expect(files(changed.source.findings)).toEqual(["new.nix"]);
    const since = await source.call<AuditOut>("security_audit", { evaluate: false, since: "HEAD~1" });
    expect(files(since.source.findings)).toEqual(["mid.nix", "new.nix"]);
    const limited = await source.call<AuditOut>("security_audit", { evaluate: false, limit: 1 });
    expect(limited.source.findings).toHaveLength(1);
    expect(limited.source.counts.block + limited.source.counts.warn).toBeGreaterThan(1);
    // Without the evaluated layer, hosts and base would do nothing.
    expect(await source.fail("security_audit", { evaluate: false, hosts: ["a"], base: "HEAD~1" })).toBe(
      "hosts and base only apply to the evaluated layer, which evaluate: false turns off\n" +
        "What to do: leave out evaluate: false to compare the hosts, or leave them out to audit the source only",
    );
  });
});
