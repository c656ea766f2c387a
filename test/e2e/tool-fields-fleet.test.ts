/**
 * Tool input fields whose effect only a host can show, on the simulated fleet: each test passes a
 * field through the MCP server and looks at what changed on the host, on the command line the
 * server ran, or in git and GitHub. The fields whose effect shows without a host are tested in
 * test/unit/tool-fields.test.ts; test/support/tool-fields.ts lists which test covers which field.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RollbackResult } from "../../src/engine/deploy/rollback.js";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { bumpNixpkgs } from "../support/updates.js";
import { connectStdio, type StdioServer, textOf } from "./client.js";

const skip = skipFleetReason();

describe.skipIf(skip)("tool fields that only the hosts can show", () => {
  let fleet: SimFleet;
  let server: StdioServer;
  let fake: FakeGithub;
  let wrapperDir: string;
  let nixLog: string;
  /** A bare repository as the flake's `origin`, where pushes land. */
  let origin: string;
  const token = "ghp_toolFieldsTokenNeverShown0123456789";

  beforeAll(async () => {
    fleet = await startFleet({ hosts: ["p620"] });
    fake = await startFakeGithub();
    origin = join(fleet.dir, "origin.git");
    await execa("git", ["init", "-q", "--bare", "-b", "main", origin]);
    await execa("git", ["remote", "add", "origin", origin], { cwd: fleet.flakeDir });
    await execa("git", ["push", "-q", "origin", "main"], { cwd: fleet.flakeDir });
    // The server's `nix` is a wrapper that writes down its arguments and runs the real nix: the
    // command line nix-deploy built is observed, and everything it does still happens for real.
    wrapperDir = mkdtempSync(join(tmpdir(), "nix-deploy-nix-wrapper-"));
    nixLog = join(wrapperDir, "argv.log");
    const realNix = spawnSync("sh", ["-c", "command -v nix"], { encoding: "utf8" }).stdout.trim();
    writeFileSync(
      join(wrapperDir, "nix"),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${nixLog}'\nexec '${realNix}' "$@"\n`,
    );
    chmodSync(join(wrapperDir, "nix"), 0o755);
    server = await connectStdio(["--flake", fleet.flakeDir], {
      ...fleet.env,
      PATH: `${wrapperDir}:${process.env.PATH}`,
      NIX_DEPLOY_GITHUB_API: fake.url,
      GITHUB_TOKEN: token,
    });
  });

  afterAll(async () => {
    await server?.close();
    await fake?.stop();
    await fleet?.stop();
    if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
  });

  const call = async <T>(name: string, args: Record<string, unknown>): Promise<T> => {
    const result = await server.client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
    expect(result.isError, textOf(result)).toBeFalsy();
    return result.structuredContent as T;
  };
  /** The `nix copy --to` command lines the server ran so far, each as its arguments. */
  const copiesTo = () =>
    (existsSync(nixLog) ? readFileSync(nixLog, "utf8") : "")
      .split("\n")
      .map((line) => line.split(" "))
      .filter((args) => args.includes("copy") && args.includes("--to"));
  const currentSystem = async (host: string) =>
    (await fleet.onHost(host, "readlink /run/current-system")).stdout.trim();
  const addPackage = async (host: string, name: string) => {
    fleet.editHost(host, (text) => text.replace('packages = [ "', `packages = [ "${name}" "`));
    await fleet.commit(`${name} on ${host}`);
  };

  it("deploy.substituteOnDestination reaches nix copy, and a resumed deployment keeps it", async () => {
    await addPackage("p620", "nginx");
    // p620 does not answer: the deployment fails before any copy, and is resumed once it does.
    await fleet.stopHost("p620");
    let interrupted: DeployResult;
    try {
      interrupted = await call<DeployResult>("deploy", {
        hosts: ["p620"],
        mode: "fast",
        substituteOnDestination: true,
      });
    } finally {
      await fleet.startHost("p620");
    }
    expect(interrupted.hosts[0]).toMatchObject({ outcome: "failed" });
    expect(interrupted.hosts[0]?.error).toMatch(/p620 does not answer over ssh/);
    expect(copiesTo()).toEqual([]);

    // The resume does not repeat the option: the deployment's record carries it.
    const resumed = await call<DeployResult>("deploy", { resume: interrupted.deploymentId });
    expect(resumed.hosts[0]).toMatchObject({ host: "p620", outcome: "deployed" });
    expect(await currentSystem("p620")).toBe(resumed.hosts[0]?.newSystem);
    expect(copiesTo()).toHaveLength(1);
    expect(copiesTo()[0]).toContain("--substitute-on-destination");

    // Without the option, the copy is a plain one.
    await addPackage("p620", "grafana");
    const plain = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast" });
    expect(plain.hosts[0]?.outcome).toBe("deployed");
    expect(copiesTo()).toHaveLength(2);
    expect(copiesTo()[1]).not.toContain("--substitute-on-destination");
    expect(copiesTo()[1]).toContain(`${plain.hosts[0]?.newSystem}`);
  });

  it("deploy.goal: test activates without a new generation, boot makes the generation without activating", async () => {
    const generations = async () =>
      (await fleet.onHost("p620", "ls -d /nix/var/nix/profiles/system-*-link")).stdout.trim().split("\n");
    const before = await generations();
    const running = await currentSystem("p620");

    await addPackage("p620", "postgresql");
    const tested = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast", goal: "test" });
    expect(tested.hosts[0]).toMatchObject({ outcome: "deployed" });
    expect(await currentSystem("p620")).toBe(tested.hosts[0]?.newSystem);
    expect(await generations()).toEqual(before);

    await addPackage("p620", "openssh");
    const booted = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast", goal: "boot" });
    expect(booted.hosts[0], JSON.stringify(booted.hosts[0])).toMatchObject({ outcome: "deployed" });
    // Still the system of the test activation; the profile and the boot entry have the new one.
    expect(await currentSystem("p620")).toBe(tested.hosts[0]?.newSystem);
    expect(await currentSystem("p620")).not.toBe(running);
    expect(await generations()).toHaveLength(before.length + 1);
    const profile = await fleet.onHost("p620", "readlink -f /nix/var/nix/profiles/system");
    expect(profile.stdout.trim()).toBe(booted.hosts[0]?.newSystem);
    const bootEntry = await fleet.onHost("p620", "readlink /run/nix-deploy-sim/boot-system");
    expect(bootEntry.stdout.trim()).toBe(booted.hosts[0]?.newSystem);
    // Back to a switched, confirmed state for the tests after this one.
    const switched = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast" });
    expect(await currentSystem("p620")).toBe(switched.hosts[0]?.newSystem);
  });

  it("rollback.confirmTimeoutSec: a rollback nobody can confirm reverts after that many seconds", async () => {
    const before = await currentSystem("p620");
    // The server's multiplexed connection to p620 stays open; new logins are refused from here on,
    // so the confirmation, which must come over a new connection, can never arrive.
    await call("host_status", { host: "p620" });
    const keys = join(fleet.hosts.get("p620")?.dir as string, "etc", "authorized_keys");
    renameSync(keys, `${keys}.away`);
    let result: RollbackResult;
    try {
      result = await call<RollbackResult>("rollback", { hosts: ["p620"], confirmTimeoutSec: 2 });
    } finally {
      renameSync(`${keys}.away`, keys);
    }
    expect(result.hosts[0]).toMatchObject({ host: "p620", outcome: "reverted" });
    expect(result.hosts[0]?.error).toMatch(/rolled back: no confirmation within 2s/);
    expect(await currentSystem("p620")).toBe(before);
  });

  it("update.commit, smart_update.commit, commit_changes: the commit, branch, push and pull request asked for", async () => {
    const git = async (...args: string[]) =>
      (await execa("git", args, { cwd: fleet.flakeDir })).stdout.trim();
    const onOrigin = async (branch: string) =>
      (await execa("git", ["--git-dir", origin, "log", "-1", "--format=%s", branch])).stdout.trim();
    const pullRequest = { base: "main", repository: "acme/fleet" };
    type Committed = {
      commit?: { message: string; branch: string; pushed: boolean; pullRequest?: { number: number } };
    };

    await bumpNixpkgs(fleet, { htop: "3.4.0" });
    const updated = await call<Committed & { status: string }>("update", {
      hosts: ["p620"],
      inputs: ["nixpkgs"],
      mode: "fast",
      commit: {
        issue: 5,
        type: "fix",
        scope: "pkgs",
        subject: "bump htop",
        branch: "bump-htop",
        push: true,
        pullRequest,
      },
    });
    expect(updated.status, JSON.stringify(updated)).toBe("updated");
    expect(updated.commit).toMatchObject({
      message: "fix(pkgs): bump htop (#5)",
      branch: "bump-htop",
      pushed: true,
    });
    expect(await onOrigin("bump-htop")).toBe("fix(pkgs): bump htop (#5)");

    await bumpNixpkgs(fleet, { prometheus: "2.49.0" });
    const smart = await call<Committed & { status: string }>("smart_update", {
      hosts: ["p620"],
      since: "2026-11-01",
      mode: "fast",
      commit: {
        issue: 6,
        type: "build",
        scope: "monitoring",
        subject: "prometheus 2.49",
        branch: "bump-prometheus",
        push: true,
        pullRequest: { base: "bump-htop", repository: "acme/fleet" },
      },
    });
    expect(smart.status).toBe("updated");
    expect(smart.commit).toMatchObject({ message: "build(monitoring): prometheus 2.49 (#6)", pushed: true });
    expect(await onOrigin("bump-prometheus")).toBe("build(monitoring): prometheus 2.49 (#6)");

    // commit_changes commits what the named deployment deployed, and only a successful one.
    fleet.editHost("p620", (text) => text.replace('packages = [ "', 'packages = [ "nvidia-x11" "'));
    const dry = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast", dryRun: true });
    const deployed = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast" });
    expect(deployed.status).toBe("succeeded");
    const request = {
      issue: 7,
      type: "feat",
      scope: "graphics",
      subject: "add the nvidia driver",
      branch: "nvidia",
      push: true,
      pullRequest: { base: "main", repository: "acme/fleet" },
    };
    const refused = await server.client.callTool({
      name: "commit_changes",
      arguments: { ...request, deployment: dry.deploymentId },
    });
    expect(textOf(refused)).toMatch(new RegExp(`^deployment ${dry.deploymentId} was a dry run`));
    const committed = await call<{ message: string; branch: string; deploymentId: string; files: string[] }>(
      "commit_changes",
      { ...request, deployment: deployed.deploymentId },
    );
    expect(committed).toMatchObject({
      message: "feat(graphics): add the nvidia driver (#7)",
      branch: "nvidia",
      deploymentId: deployed.deploymentId,
      files: ["hosts/p620.nix"],
    });
    expect(await onOrigin("nvidia")).toBe("feat(graphics): add the nvidia driver (#7)");
    expect(await git("rev-parse", "--abbrev-ref", "HEAD")).toBe("nvidia");

    expect(
      fake.pulls.map(({ head, base, title, authorization }) => ({ head, base, title, authorization })),
    ).toEqual([
      {
        head: "bump-htop",
        base: "main",
        title: "fix(pkgs): bump htop (#5)",
        authorization: `token ${token}`,
      },
      {
        head: "bump-prometheus",
        base: "bump-htop",
        title: "build(monitoring): prometheus 2.49 (#6)",
        authorization: `token ${token}`,
      },
      {
        head: "nvidia",
        base: "main",
        title: "feat(graphics): add the nvidia driver (#7)",
        authorization: `token ${token}`,
      },
    ]);
  });
});
