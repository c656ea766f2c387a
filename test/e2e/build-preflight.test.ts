import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestBuildResult } from "../../src/engine/deploy/build.js";
import type { PreflightResult } from "../../src/engine/deploy/preflight.js";
import { skipFleetReason } from "../fleet/harness.js";
import { useFleetAndServer } from "./client.js";

const skip = skipFleetReason();

describe.skipIf(skip)("preflight and test_build on the simulated fleet", () => {
  // Only p620 and p510 run; razer and samsung point at closed loopback ports.
  const context = useFleetAndServer(["p620", "p510"]);
  const call = async <T>(name: string, args: Record<string, unknown>) => {
    const result = await context.server.client.callTool({ name, arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as T;
  };

  it("passes a clean flake and answering hosts, and fails unreachable ones as checks, not errors", async () => {
    const result = await call<PreflightResult>("preflight", { hosts: ["all"] });
    expect(result.flake.find((c) => c.check === "git")).toMatchObject({ status: "pass" });
    const byHost = Object.fromEntries(result.hosts.map((h) => [h.host, h]));
    expect(byHost.p620?.status).toBe("pass");
    expect(byHost.p620?.checks.map((c) => c.check)).toEqual(["evaluates", "ssh", "nix", "host disk", "lock"]);
    expect(byHost.razer?.status).toBe("fail");
    expect(byHost.razer?.checks.find((c) => c.check === "ssh")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/Connection refused/),
    });
    expect(result.status).toBe("fail");
    expect(result.summary).toBe("failed; failing hosts: razer, samsung");
  });

  it("warns about untracked files, which a flake build would ignore, and fails on a held lock", async () => {
    writeFileSync(join(context.fleet.flakeDir, "hosts", "new-module.nix"), "{ }\n");
    const locks = join(context.fleet.env.XDG_STATE_HOME as string, "nix-deploy", "locks");
    mkdirSync(locks, { recursive: true });
    // This test's own process is alive, so its lock is held, not stale.
    writeFileSync(
      join(locks, "p510.lock"),
      JSON.stringify({ deploymentId: "20261125-000000-abcdef", pid: process.pid, since: "now" }),
    );
    const result = await call<PreflightResult>("preflight", { hosts: ["p620", "p510"] });
    expect(result.flake.find((c) => c.check === "git")).toMatchObject({
      status: "warn",
      detail: expect.stringContaining("hosts/new-module.nix"),
    });
    const p510 = result.hosts.find((h) => h.host === "p510");
    expect(p510?.checks.find((c) => c.check === "lock")).toMatchObject({
      status: "fail",
      detail: expect.stringContaining("20261125-000000-abcdef"),
    });
  });

  it("builds every host, and names the failing derivation of a broken one", async () => {
    const ok = await call<TestBuildResult>("test_build", {});
    expect(ok.status).toBe("succeeded");
    expect(ok.hosts.map((h) => h.host)).toEqual(["p510", "p620", "razer", "samsung"]);
    for (const host of ok.hosts) {
      expect(host.storePath).toMatch(
        new RegExp(`^/nix/store/[a-z0-9]{32}-nixos-system-${host.host}-fixture$`),
      );
      expect(host.closureSizeBytes).toBeGreaterThan(0);
    }
    context.fleet.editHost("samsung", (t) => t.replace('packages = [ "htop"', 'packages = [ "htop" "htop"'));
    await context.fleet.commit("a duplicate package breaks samsung's build");
    const broken = await call<TestBuildResult>("test_build", { hosts: ["samsung", "p620"] });
    expect(broken.status).toBe("failed");
    const samsung = broken.hosts.find((h) => h.host === "samsung");
    expect(samsung?.ok).toBe(false);
    expect(samsung?.failingDerivation).toMatch(
      /^\/nix\/store\/[a-z0-9]{32}-nixos-system-samsung-fixture\.drv$/,
    );
    expect(samsung?.error).toMatch(/failed with exit code 1/);
    expect(broken.hosts.find((h) => h.host === "p620")?.ok).toBe(true);
  });

  it("builds on a build host and copies the result back", async () => {
    const local = await call<TestBuildResult>("test_build", { hosts: ["p620"] });
    const remote = await call<TestBuildResult>("test_build", { hosts: ["p620"], buildHost: "p510" });
    expect(remote.hosts[0]).toMatchObject({ ok: true, storePath: local.hosts[0]?.storePath });
    const onBuilder = await context.fleet.onHost(
      "p510",
      `test -d ${local.hosts[0]?.storePath} && echo present`,
    );
    expect(onBuilder.stdout.trim()).toBe("present");
  });
});
