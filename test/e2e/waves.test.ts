/**
 * Rollouts in waves on the simulated fleet, through the MCP client and the CLI: a canary that fails
 * leaves every other host untouched; batches stop at the failed batch; onFailure "rollback" returns
 * the hosts of earlier waves to the generation they had.
 */
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { skipFleetReason } from "../fleet/harness.js";
import { currentSystem, deployVia, useFleetAndServer } from "./client.js";

const skip = skipFleetReason();
const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");

describe.skipIf(skip)("rollouts in waves", () => {
  const context = useFleetAndServer(["p620", "p510", "razer", "samsung"]);
  const systems = async () =>
    Object.fromEntries(
      await Promise.all(
        ["p510", "p620", "razer", "samsung"].map(async (h) => [h, await currentSystem(context.fleet, h)]),
      ),
    );
  const changeEverywhere = async (pkg: string) => {
    for (const host of ["p510", "p620", "razer", "samsung"])
      context.fleet.editHost(host, (t) => t.replace('packages = [ "', `packages = [ "${pkg}" "`));
  };

  it("a canary that fails leaves every other host untouched", async () => {
    await changeEverywhere("nginx");
    context.fleet.editHost("razer", (t) => t.replace("fail = false;", "fail = true;"));
    await context.fleet.commit("nginx everywhere; razer's activation fails");
    const before = await systems();
    const result = await deployVia(context.server, {
      hosts: ["all"],
      mode: "fast",
      strategy: "canary",
      canary: ["razer"],
    });
    expect(result.status).toBe("failed");
    expect(result.waves).toEqual([
      { name: "canary", hosts: ["razer"], outcome: "failed" },
      { name: "rest", hosts: ["p510", "p620", "samsung"], outcome: "not started" },
    ]);
    const byHost = Object.fromEntries(result.hosts.map((h) => [h.host, h]));
    expect(byHost.razer?.outcome).toBe("rolled-back");
    for (const host of ["p510", "p620", "samsung"]) {
      expect(byHost[host]?.outcome).toBe("pending");
      expect(byHost[host]?.notes).toEqual(['not started: the rollout stopped when wave "canary" failed']);
    }
    expect(await systems()).toEqual(before);
  });

  it("batches stop at the failed batch, and onFailure rollback returns the earlier batches", async () => {
    const before = await systems();
    // Batches of one in name order: p510 deploys, p620 deploys, razer fails, samsung never starts.
    const result = await deployVia(context.server, {
      hosts: ["all"],
      mode: "fast",
      strategy: "batches",
      batchSize: "1",
      onFailure: "rollback",
    });
    expect(result.waves?.map((w) => [w.name, w.outcome])).toEqual([
      ["batch 1 of 4", "rolled back"],
      ["batch 2 of 4", "rolled back"],
      ["batch 3 of 4", "failed"],
      ["batch 4 of 4", "not started"],
    ]);
    const byHost = Object.fromEntries(result.hosts.map((h) => [h.host, h]));
    for (const host of ["p510", "p620"]) {
      expect(byHost[host]?.outcome).toBe("rolled-back");
      expect(byHost[host]?.notes?.at(-1)).toMatch(
        /^returned to generation \d+ because wave "batch 3 of 4" failed$/,
      );
    }
    expect(byHost.samsung?.outcome).toBe("pending");
    // Every host runs the system it ran before the rollout.
    expect(await systems()).toEqual(before);
  });

  it("the CLI takes the same rollout, and stops without touching the rest", async () => {
    const before = await systems();
    const run = await execa(
      "node",
      [CLI, "deploy", "--all", "--mode", "fast", "--strategy", "batches", "--batch-size", "50%", "--yes"],
      {
        env: { ...process.env, ...context.fleet.env, NIX_DEPLOY_FLAKE: context.fleet.flakeDir },
        reject: false,
      },
    );
    // Two batches of two: p510 and p620 deploy, then razer fails beside samsung; nothing is left after.
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/p510 +\| deployed/);
    expect(run.stdout).toMatch(/razer +\| rolled-back/);
    const after = await systems();
    expect(after.p510).not.toBe(before.p510);
    expect(after.razer).toBe(before.razer);
    // The report shows the rollout's waves.
    const report = await execa("node", [CLI, "report", "latest"], {
      env: { ...process.env, ...context.fleet.env, NIX_DEPLOY_FLAKE: context.fleet.flakeDir },
      reject: false,
    });
    expect(report.stdout).toContain(
      "## Rollout\n\n1. batch 1 of 2: succeeded (p510, p620)\n2. batch 2 of 2: failed (razer, samsung)",
    );
  });
});
