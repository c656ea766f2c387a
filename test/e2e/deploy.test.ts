import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import { type SimFleet, skipFleetReason } from "../fleet/harness.js";
import { useFleetAndServer } from "./client.js";

const skip = skipFleetReason();

async function currentSystem(fleet: SimFleet, host: string): Promise<string> {
  return (await fleet.onHost(host, "readlink /run/current-system")).stdout.trim();
}

describe.skipIf(skip)("deploy on the simulated fleet", () => {
  const context = useFleetAndServer();
  const deploy = async (args: Record<string, unknown>) => {
    const result = await context.server.client.callTool({ name: "deploy", arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as DeployResult;
  };

  it("deploys a change to all four hosts in parallel, then finds nothing to do", async () => {
    // p510 runs nginx already; it gets firefox.
    const added: Record<string, string> = {
      p620: "nginx: ∅ → 1.24.0",
      p510: "firefox: ∅ → 120.0",
      razer: "nginx: ∅ → 1.24.0",
      samsung: "nginx: ∅ → 1.24.0",
    };
    for (const [host, change] of Object.entries(added)) {
      context.fleet.editHost(host, (text) =>
        text.replace('packages = [ "', `packages = [ "${change.split(":")[0]}" "`),
      );
    }
    await context.fleet.commit("add a package everywhere");
    const first = await deploy({ hosts: ["all"] });
    expect(first.status).toBe("succeeded");
    expect(first.hosts.map((h) => [h.host, h.outcome, h.generationBefore, h.generationAfter])).toEqual([
      ["p510", "deployed", 1, 2],
      ["p620", "deployed", 1, 2],
      ["razer", "deployed", 1, 2],
      ["samsung", "deployed", 1, 2],
    ]);
    for (const host of first.hosts) {
      expect(host.packageChanges).toEqual([added[host.host]]);
      expect(await currentSystem(context.fleet, host.host)).toBe(host.newSystem);
    }

    const second = await deploy({ hosts: ["all"] });
    expect(second.status).toBe("succeeded");
    expect(second.hosts.map((h) => h.outcome)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged"]);
    expect(second.summary).toBe("unchanged: p510, p620, razer, samsung");
    // No copy was even attempted: the record's phases stop at the probe.
    const record = JSON.parse(
      readFileSync(
        join(
          context.fleet.env.XDG_STATE_HOME as string,
          "nix-deploy",
          "deployments",
          `${second.deploymentId}.json`,
        ),
        "utf8",
      ),
    );
    for (const host of Object.values(record.hosts) as Array<{ phases: Array<{ name: string }> }>) {
      expect(host.phases.map((p) => p.name)).toEqual(["lock", "build", "probe"]);
    }
  });

  it("reports the units a change restarts", async () => {
    context.fleet.editHost("p620", (text) =>
      text.replace('ProtectSystem = "full";', 'ProtectSystem = "strict";'),
    );
    await context.fleet.commit("harden grafana");
    const result = await deploy({ hosts: ["p620"], dryRun: true });
    expect(result.hosts[0]).toMatchObject({
      outcome: "dry-run",
      unitChanges: [{ unit: "grafana.service", action: "restart" }],
    });
    const applied = await deploy({ hosts: ["p620"] });
    expect(applied.hosts[0]).toMatchObject({ outcome: "deployed", generationAfter: 3 });
  });

  it("rolls a host back to its previous generation, and to a chosen one", async () => {
    const gen2 = (
      await context.fleet.onHost("p620", "readlink /nix/var/nix/profiles/system-2-link")
    ).stdout.trim();
    const back = await context.server.client.callTool(
      { name: "rollback", arguments: { hosts: ["p620"] } },
      undefined,
      { timeout: 120_000 },
    );
    expect(back.structuredContent).toMatchObject({
      status: "succeeded",
      summary: "p620: generation 3 → 2",
      hosts: [
        { host: "p620", outcome: "switched", generationBefore: 3, generationAfter: 2, targetGeneration: 2 },
      ],
    });
    expect(await currentSystem(context.fleet, "p620")).toBe(gen2);

    const missing = await context.server.client.callTool({
      name: "rollback",
      arguments: { hosts: ["p620"], generation: 99 },
    });
    expect(missing.structuredContent).toMatchObject({
      status: "failed",
      hosts: [
        // Nothing was done: the request does not fit the host (the CLI exits 2 for it).
        { outcome: "refused", error: "p620 has no generation 99; its generations: 1, 2, 3" },
      ],
    });

    const forward = await context.server.client.callTool(
      { name: "rollback", arguments: { hosts: ["p620"], generation: 3 } },
      undefined,
      { timeout: 120_000 },
    );
    expect(forward.structuredContent).toMatchObject({
      status: "succeeded",
      hosts: [{ outcome: "switched", generationAfter: 3 }],
    });
  });

  it("blocks a standard deploy on a critical anti-pattern without touching a host; emergency mode skips the checks", async () => {
    const before = await currentSystem(context.fleet, "p620");
    context.fleet.editHost("p620", (t) =>
      t.replace("activation = {", 'users.alice.password = "hunter2";\n  activation = {'),
    );
    await context.fleet.commit("a clear-text password");
    const blocked = await deploy({ hosts: ["p620"] });
    expect(blocked.status).toBe("failed");
    expect(blocked.summary).toBe("blocked by anti-patterns: no host was touched");
    expect(blocked.hosts[0]?.outcome).toBe("pending");
    expect(blocked.next).toMatch(/plain-password|password/);
    expect(await currentSystem(context.fleet, "p620")).toBe(before);

    const fast = await deploy({ hosts: ["p620"], mode: "fast", dryRun: true });
    expect(fast.checks.map((c) => c.check)).toEqual(["syntax"]);
    const emergency = await deploy({ hosts: ["p620"], mode: "emergency" });
    expect(emergency.checks).toEqual([]);
    // Nothing in the system changed: the password is not read by the fixture's modules.
    expect(emergency.hosts[0]?.outcome).toBe("unchanged");
    context.fleet.editHost("p620", (t) => t.replace('users.alice.password = "hunter2";\n  ', ""));
    await context.fleet.commit("no clear-text password");
  });
});
