import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type SimFleet, skipFleetReason } from "../fleet/harness.js";
import { expectReadOnlyTools, textOf, useFleetAndServer } from "./client.js";

const skip = skipFleetReason();

describe.skipIf(skip)("fleet_list and host_status over stdio on the simulated fleet", () => {
  const context = useFleetAndServer();

  it("lists tools with annotations and output schemas, resources and prompts", async () => {
    await expectReadOnlyTools(context.server.client, ["fleet_list", "host_status"]);
    const { resources } = await context.server.client.listResources();
    expect(resources.map((r) => r.uri)).toContain("nix-deploy://fleet");
    const { prompts } = await context.server.client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain("nix-deploy");
  });

  it("lists the four hosts, each answering with the system it runs", async () => {
    const result = await context.server.client.callTool({ name: "fleet_list", arguments: {} });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as {
      hosts: Array<{
        name: string;
        reachable: boolean;
        currentSystem?: string;
        generation?: number;
        tags: string[];
        port?: number;
      }>;
      summary: string;
    };
    expect(out.hosts.map((h) => h.name)).toEqual(["p510", "p620", "razer", "samsung"]);
    for (const host of out.hosts) {
      const sim = context.fleet.hosts.get(host.name);
      expect(host.reachable).toBe(true);
      expect(host.currentSystem).toBe(sim?.initialSystem);
      expect(host.generation).toBe(1);
      expect(host.port).toBe(sim?.port);
    }
    expect(out.hosts.find((h) => h.name === "p510")?.tags).toEqual(["server"]);
    expect(out.summary).toBe("4 hosts, 4 answering");
  });

  it("reports one host's system, generations and units", async () => {
    const result = await context.server.client.callTool({ name: "host_status", arguments: { host: "p620" } });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as Record<string, unknown>;
    const initial = context.fleet.hosts.get("p620")?.initialSystem;
    expect(out).toMatchObject({
      host: "p620",
      reachable: true,
      currentSystem: initial,
      systemState: "running",
      failedUnits: [],
      criticalServices: ["sshd.service"],
    });
    expect(out.generations).toEqual([
      {
        number: 1,
        date: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
        current: true,
        path: initial,
      },
    ]);
    expect(out.nixVersion).toMatch(/^nix \(Nix\) 2\./);
  });

  it("shows a failed unit and a degraded system", async () => {
    const failed = await context.fleet.onHost(
      "p510",
      "echo failed > /run/nix-deploy-sim/units/postgresql.service",
    );
    expect(failed.exitCode).toBe(0);
    try {
      const result = await context.server.client.callTool({
        name: "host_status",
        arguments: { host: "p510" },
      });
      const out = result.structuredContent as {
        systemState: string;
        failedUnits: Array<{ unit: string }>;
        summary: string;
        next: string;
      };
      expect(out.systemState).toBe("degraded");
      expect(out.failedUnits.map((u) => u.unit)).toEqual(["postgresql.service"]);
      expect(out.summary).toContain("postgresql.service");
      expect(out.next).toContain("journalctl -u postgresql.service");
    } finally {
      await context.fleet.onHost("p510", "echo active > /run/nix-deploy-sim/units/postgresql.service");
    }
  });

  it("reports a host whose sshd is down as unreachable, not as a crash", async () => {
    await context.fleet.stopHost("razer");
    try {
      const list = await context.server.client.callTool({ name: "fleet_list", arguments: {} });
      expect(list.isError).toBeFalsy();
      const out = list.structuredContent as {
        hosts: Array<{ name: string; reachable: boolean; reason?: string }>;
        summary: string;
      };
      const razer = out.hosts.find((h) => h.name === "razer");
      expect(razer?.reachable).toBe(false);
      expect(razer?.reason).toMatch(/Connection refused/);
      expect(out.hosts.filter((h) => h.reachable).map((h) => h.name)).toEqual(["p510", "p620", "samsung"]);
      expect(out.summary).toBe("4 hosts, 3 answering; not answering: razer");

      const status = await context.server.client.callTool({
        name: "host_status",
        arguments: { host: "razer" },
      });
      expect(status.isError).toBeFalsy();
      expect(status.structuredContent).toMatchObject({
        host: "razer",
        reachable: false,
        generations: [],
        failedUnits: [],
      });
    } finally {
      await context.fleet.startHost("razer");
    }
    const again = await context.server.client.callTool({ name: "host_status", arguments: { host: "razer" } });
    expect(again.structuredContent).toMatchObject({ reachable: true, systemState: "running" });
  });

  it("answers bad input with a tool error naming the field, never a stack trace", async () => {
    const hostile = await context.server.client.callTool({
      name: "host_status",
      arguments: { host: "p620; touch /tmp/nix-deploy-pwned" },
    });
    expect(hostile.isError).toBe(true);
    expect(textOf(hostile)).toMatch(/Input validation error: .*a host name is letters, digits.* at host$/);
    expect(textOf(hostile)).not.toMatch(/\n\s+at /);
    expect(existsSync("/tmp/nix-deploy-pwned")).toBe(false);

    const missing = await context.server.client.callTool({ name: "host_status", arguments: {} });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/expected string, received undefined at host$/);

    const unknown = await context.server.client.callTool({
      name: "host_status",
      arguments: { host: "nosuchhost" },
    });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toBe(
      'unknown host "nosuchhost"\nWhat to do: known hosts: p510, p620, razer, samsung',
    );

    const badFlake = await context.server.client.callTool({
      name: "fleet_list",
      arguments: { flake: "/nonexistent" },
    });
    expect(badFlake.isError).toBe(true);
    // Only the flake the server was started with is served (see test/e2e/security-stdio.test.ts).
    expect(textOf(badFlake)).toMatch(/the flake \/nonexistent is not one this server serves/);
  });

  it("serves the fleet resource", async () => {
    const { contents } = await context.server.client.readResource({ uri: "nix-deploy://fleet" });
    const fleetJson = JSON.parse(String((contents[0] as { text: string }).text)) as {
      hosts: Array<{ name: string }>;
    };
    expect(fleetJson.hosts).toHaveLength(4);
  });

  it("writes nothing but the protocol to stdout and logs to stderr", () => {
    // Every call above parsed as MCP; the log lines went to stderr.
    expect(context.server.stderr()).toMatch(/"msg":"fleet listed"/);
  });
});
