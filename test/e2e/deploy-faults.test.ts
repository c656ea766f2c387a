import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/pipeline.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { waitFor } from "../support/wait.js";
import { connectStdio, type StdioServer } from "./client.js";

const skip = skipFleetReason();

async function generationsOf(fleet: SimFleet, host: string): Promise<number[]> {
  const out = (await fleet.onHost(host, "nix-env -p /nix/var/nix/profiles/system --list-generations")).stdout;
  return out
    .split("\n")
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((n) => !Number.isNaN(n));
}

async function deployVia(server: StdioServer, args: Record<string, unknown>): Promise<DeployResult> {
  const result = await server.client.callTool({ name: "deploy", arguments: args }, undefined, {
    timeout: 300_000,
  });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as DeployResult;
}

describe.skipIf(skip)("deploy under faults: locks, a killed deployer, systemd-run", () => {
  let fleet: SimFleet;
  const servers: StdioServer[] = [];
  const startServer = async () => {
    const server = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    fleet = await startFleet();
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await fleet?.stop();
  });

  it("refuses a second deploy to a host being deployed, naming the holder", async () => {
    const server = await startServer();
    fleet.editHost("samsung", (t) =>
      t.replace("activation = { fail = false;", "activation = { delaySeconds = 2; fail = false;"),
    );
    await fleet.commit("slow samsung");
    const first = deployVia(server, { hosts: ["samsung"] });
    // The second starts once the first holds the host's lock.
    const lockFile = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "locks", "samsung.lock");
    await waitFor(() => readFileSync(lockFile, "utf8").length > 0, 60_000);
    const second = await deployVia(server, { hosts: ["samsung"] });
    const firstResult = await first;
    expect(firstResult.hosts[0]?.outcome).toBe("deployed");
    expect(second.status).toBe("failed");
    expect(second.hosts[0]?.error).toContain(
      `samsung is being deployed by deployment ${firstResult.deploymentId}`,
    );
  });

  it("takes over the lock of a deployer that died", async () => {
    const server = await startServer();
    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    const locks = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "locks");
    mkdirSync(locks, { recursive: true });
    writeFileSync(
      join(locks, "razer.lock"),
      JSON.stringify({
        deploymentId: "20260101-000000-dead00",
        pid: dead.pid,
        since: "2026-01-01T00:00:00Z",
      }),
    );
    fleet.editHost("razer", (t) => t.replace('packages = [ "', 'packages = [ "grafana" "'));
    await fleet.commit("grafana on razer");
    const result = await deployVia(server, { hosts: ["razer"] });
    expect(result.hosts[0]?.outcome).toBe("deployed");
    expect(result.hosts[0]?.notes).toContain(
      `took over the lock of deployment 20260101-000000-dead00, whose process (pid ${dead.pid}) is gone`,
    );
  });

  it("runs the supervisor under systemd-run where the host has systemd", async () => {
    const server = await startServer();
    mkdirSync(join(fleet.hosts.get("p510")?.dir as string, "run", "systemd", "system"), { recursive: true });
    fleet.editHost("p510", (t) => t.replace('packages = [ "', 'packages = [ "firefox" "'));
    await fleet.commit("firefox on p510");
    const result = await deployVia(server, { hosts: ["p510"] });
    expect(result.hosts[0]?.outcome).toBe("deployed");
    const units = (await fleet.onHost("p510", "cat /run/nix-deploy-sim/systemd-run.log")).stdout
      .trim()
      .split("\n");
    expect(units).toHaveLength(1);
    expect(units[0]).toMatch(new RegExp(`^nix-deploy-${result.deploymentId}-p510-[0-9a-f]{12}$`));
  });

  it("resumes a deployment whose deployer was killed, without repeating finished hosts", async () => {
    for (const host of ["p620", "p510", "razer"])
      fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "postgresql" "'));
    fleet.editHost("p620", (t) =>
      t.replace("activation = { fail = false;", "activation = { delaySeconds = 3; fail = false;"),
    );
    await fleet.commit("postgresql everywhere; slow p620");
    const generationsBefore = {
      p510: await generationsOf(fleet, "p510"),
      razer: await generationsOf(fleet, "razer"),
    };

    const doomed = await startServer();
    const pending = doomed.client
      .callTool(
        { name: "deploy", arguments: { hosts: ["p620", "p510", "razer"], confirmTimeoutSec: 10 } },
        undefined,
        { timeout: 300_000 },
      )
      .catch(() => undefined);
    const deployments = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "deployments");
    // Kill the deployer once p510 and razer are done and p620 is still activating.
    await waitFor(
      () => {
        return readdirSync(deployments).some((f) => {
          if (!f.endsWith(".json")) return false;
          const record = JSON.parse(readFileSync(join(deployments, f), "utf8"));
          return (
            record.status === "running" &&
            record.hosts.p510?.outcome === "deployed" &&
            record.hosts.razer?.outcome === "deployed" &&
            record.hosts.p620?.outcome === "pending"
          );
        });
      },
      60_000,
      () =>
        readdirSync(deployments)
          .map((f) => readFileSync(join(deployments, f), "utf8"))
          .join("\n"),
    );
    process.kill(doomed.pid as number, "SIGKILL");
    void pending;

    const server = await startServer();
    const resumed = await deployVia(server, { resume: "latest" });
    expect(resumed.status).toBe("succeeded");
    const byHost = Object.fromEntries(resumed.hosts.map((h) => [h.host, h]));
    expect(byHost.p510).toMatchObject({ outcome: "deployed", finishedEarlier: true });
    expect(byHost.razer).toMatchObject({ outcome: "deployed", finishedEarlier: true });
    expect(byHost.p620?.outcome).toBe("deployed");
    expect(byHost.p620?.finishedEarlier).toBeFalsy();
    // Finished hosts got exactly one new generation, not a second one from the resumed run.
    expect(await generationsOf(fleet, "p510")).toEqual([
      ...generationsBefore.p510,
      Math.max(...generationsBefore.p510) + 1,
    ]);
    expect(await generationsOf(fleet, "razer")).toEqual([
      ...generationsBefore.razer,
      Math.max(...generationsBefore.razer) + 1,
    ]);
    expect((await fleet.onHost("p620", "readlink /run/current-system")).stdout.trim()).toBe(
      byHost.p620?.newSystem,
    );
  });
});
