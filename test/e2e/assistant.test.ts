import { describe, expect, it } from "vitest";
import { reportSchema } from "../../src/engine/report/report.js";
import { skipFleetReason } from "../fleet/harness.js";
import { textOf, useFleetAndServer } from "./client.js";

const skip = skipFleetReason();

/** The tools a prompt tells the assistant to call, in order. */
function toolsNamed(promptText: string): string[] {
  return [...promptText.matchAll(/^\d+\. Call (\w+)/gm)].map((m) => m[1] as string);
}

describe.skipIf(skip)("the assistant's flow, as an assistant would drive it", () => {
  const context = useFleetAndServer();
  const promptText = async (name: string, args: Record<string, string>) => {
    const prompt = await context.server.client.getPrompt({ name, arguments: args });
    return (prompt.messages[0]?.content as { text: string }).text;
  };
  /** Calls each tool the prompt names, in order, as an assistant would; returns the characters read. */
  const follow = async (text: string, request: string, hosts: string[]) => {
    const available = new Set((await context.server.client.listTools()).tools.map((t) => t.name));
    let planId = "";
    let characters = 0;
    for (const tool of toolsNamed(text)) {
      expect(available.has(tool), `the prompt names ${tool}, which the server must offer`).toBe(true);
      const args: Record<string, unknown> =
        tool === "plan"
          ? { request }
          : tool === "deploy"
            ? { planId }
            : tool === "preflight" || tool === "test_build"
              ? { hosts }
              : {};
      const result = await context.server.client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: 300_000,
      });
      expect(result.isError, `${tool}: ${textOf(result)}`).toBeFalsy();
      characters += textOf(result).length;
      if (tool === "plan") planId = (result.structuredContent as { planId: string }).planId;
    }
    expect(planId).toMatch(/^plan-/);
    return characters;
  };

  it("follows the prompt for 'Deploy to all hosts' and leaves a report of the four hosts", async () => {
    const text = await promptText("nix-deploy", { request: "Deploy to all hosts" });
    const tools = toolsNamed(text);
    expect(tools[0]).toBe("plan");
    expect(tools.at(-1)).toBe("deploy");
    expect(text).toContain("in parallel");
    for (const host of ["p620", "p510", "razer", "samsung"]) {
      context.fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "grafana" "'));
    }
    await context.fleet.commit("grafana everywhere");
    await follow(text, "Deploy to all hosts", ["all"]);

    const { contents } = await context.server.client.readResource({ uri: "nix-deploy://reports/latest" });
    const report = String((contents[0] as { text: string }).text);
    expect(report).toContain("✅ **Status: SUCCESS**");
    for (const host of ["p620", "p510", "razer", "samsung"])
      expect(report).toContain(`## ${host}: ✅ deployed`);
    expect(report.match(/Generation: 1 → 2/g)).toHaveLength(4);
    // p620 runs grafana as a service already, so only three hosts gain the package.
    expect(report.match(/- grafana: ∅ → 10\.2\.2/g)).toHaveLength(3);
  });

  it("keeps a standard deploy of one host under 2,000 tokens of tool results; details live in the report", async () => {
    context.fleet.editHost("razer", (t) =>
      t.replace('packages = [ "grafana"', 'packages = [ "postgresql" "grafana"'),
    );
    await context.fleet.commit("postgresql on razer");
    const characters = await follow(await promptText("deploy", { host: "razer" }), "Deploy to razer", [
      "razer",
    ]);
    expect(characters / 4).toBeLessThan(2000);
    const { contents } = await context.server.client.readResource({
      uri: "nix-deploy://reports/latest/json",
    });
    const report = reportSchema.parse(JSON.parse(String((contents[0] as { text: string }).text)));
    expect(report.hosts.map((h) => [h.host, h.outcome, h.packageChanges])).toEqual([
      ["razer", "deployed", ["postgresql: ∅ → 15.4"]],
    ]);
    // The package changes above were compared on the host during the activation: no phase of their own.
    expect(report.hosts[0]?.phases.map((p) => p.name)).toEqual([
      "lock",
      "build",
      "probe",
      "copy",
      "activate",
    ]);
  });

  it("lists past reports and serves each by id", async () => {
    const { resources } = await context.server.client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toEqual(
      expect.arrayContaining([
        "nix-deploy://reports",
        "nix-deploy://reports/latest",
        "nix-deploy://reports/latest/json",
      ]),
    );
    const byId = uris.filter((u) => /^nix-deploy:\/\/reports\/\d{8}-\d{6}-[0-9a-f]{6}$/.test(u));
    expect(byId.length).toBeGreaterThanOrEqual(2);
    const { contents } = await context.server.client.readResource({ uri: byId[0] as string });
    expect(String((contents[0] as { text: string }).text)).toMatch(/^# Deployment report: /);
  });

  it("gives each mode its own flow, and answers an unknown host with the valid ones", async () => {
    const fast = await promptText("fast-deploy", { host: "p620" });
    expect(toolsNamed(fast)).toEqual(["plan", "validate_syntax", "deploy"]);
    const emergency = await promptText("emergency-deploy", { host: "p620" });
    expect(toolsNamed(emergency)).toEqual(["plan", "deploy"]);
    expect(emergency).toMatch(/magic rollback still protects/);
    const unknown = await promptText("nix-deploy", { request: "Deploy to p999" });
    expect(unknown).toContain('unknown host "p999"');
    expect(unknown).toContain("Valid hosts: p510, p620, razer, samsung");
    expect(toolsNamed(unknown)).toEqual([]);
  });
});
