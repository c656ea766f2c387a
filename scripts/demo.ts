/**
 * Starts the simulated fleet (four sshd hosts with their own /nix), spawns the built MCP server over
 * stdio with a real MCP client, and shows what an assistant sees: the fleet, one host's status, and
 * a host that stops answering.
 */
import { connectStdio } from "../test/e2e/client.js";
import { fleetUnavailableReason, startFleet } from "../test/fleet/harness.js";

type FleetOut = {
  hosts: Array<{
    name: string;
    target: string;
    port?: number;
    tags: string[];
    reachable?: boolean;
    currentSystem?: string;
    reason?: string;
  }>;
  summary: string;
};
type StatusOut = {
  host: string;
  currentSystem?: string;
  generations: Array<{ number: number; date: string; current: boolean }>;
  systemState?: string;
  failedUnits: Array<{ unit: string }>;
  summary: string;
  next: string;
};

type PlanOut = { planId: string; summary: string };
type DeployOut = {
  summary: string;
  checks: Array<{ check: string; status: string; durationMs: number }>;
  hosts: Array<{
    host: string;
    outcome: string;
    generationBefore?: number;
    generationAfter?: number;
    packageChanges: string[];
    error?: string;
  }>;
};

function showDeploy(out: DeployOut): void {
  if (out.checks.length)
    say(`  checks: ${out.checks.map((c) => `${c.check} ${c.status} (${c.durationMs} ms)`).join(", ")}`);
  for (const host of out.hosts) {
    const generations =
      host.generationBefore !== undefined
        ? ` generation ${host.generationBefore} → ${host.generationAfter}`
        : "";
    say(
      `  ${host.host.padEnd(8)} ${host.outcome}${generations}  ${host.packageChanges.join(", ") || "(no package version changed)"}${host.error ? `\n           ${host.error}` : ""}`,
    );
  }
  say(`  ${out.summary}`);
}

const say = (line = "") => process.stdout.write(`${line}\n`);

function showFleet(out: FleetOut): void {
  for (const host of out.hosts) {
    const where = `${host.target}${host.port ? `:${host.port}` : ""}`;
    const state = host.reachable
      ? `✓ ${host.currentSystem?.replace(/^\/nix\/store\/[a-z0-9]{32}-/, "")}`
      : `✗ ${host.reason}`;
    say(
      `  ${host.name.padEnd(8)} ${where.padEnd(22)} ${host.tags
        .map((t) => `@${t}`)
        .join(" ")
        .padEnd(20)} ${state}`,
    );
  }
  say(`  ${out.summary}`);
}

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stderr.write(`demo: ${unavailable}\n`);
    process.exit(1);
  }
  say("Starting the simulated fleet (p620, p510, razer, samsung)...");
  const started = Date.now();
  const fleet = await startFleet();
  say(`  up in ${((Date.now() - started) / 1000).toFixed(1)} s; flake at ${fleet.flakeDir}`);
  const server = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
  try {
    const { tools } = await server.client.listTools();
    say(`\nMCP server over stdio offers: ${tools.map((t) => t.name).join(", ")}`);

    say("\nfleet_list:");
    showFleet(
      (await server.client.callTool({ name: "fleet_list", arguments: {} })).structuredContent as FleetOut,
    );

    say("\nhost_status p620:");
    const status = (await server.client.callTool({ name: "host_status", arguments: { host: "p620" } }))
      .structuredContent as StatusOut;
    say(`  ${status.summary}`);
    for (const g of status.generations)
      say(`  generation ${g.number}  ${g.date}${g.current ? "  (current)" : ""}`);
    say(
      `  failed units: ${status.failedUnits.length === 0 ? "none" : status.failedUnits.map((u) => u.unit).join(", ")}`,
    );

    say('\nA change to every host (grafana added), then /nix-deploy "Deploy to all hosts":');
    for (const host of ["p620", "p510", "razer", "samsung"]) {
      fleet.editHost(host, (text) => text.replace('packages = [ "', 'packages = [ "grafana" "'));
    }
    await fleet.commit("demo: grafana everywhere");
    const plan = (
      await server.client.callTool({ name: "plan", arguments: { request: "Deploy to all hosts" } })
    ).structuredContent as PlanOut;
    say(`  plan ${plan.planId}: ${plan.summary}`);
    const deployed = (
      await server.client.callTool({ name: "deploy", arguments: { planId: plan.planId } }, undefined, {
        timeout: 600_000,
      })
    ).structuredContent as DeployOut;
    showDeploy(deployed);

    say("\nAn activation that fails on samsung: magic rollback puts it back at once:");
    fleet.editHost("samsung", (text) => text.replace("fail = false;", "fail = true;"));
    await fleet.commit("demo: break samsung's activation");
    showDeploy(
      (
        await server.client.callTool(
          { name: "deploy", arguments: { hosts: ["samsung"], mode: "fast" } },
          undefined,
          { timeout: 600_000 },
        )
      ).structuredContent as DeployOut,
    );

    const { contents } = await server.client.readResource({ uri: "nix-deploy://reports/latest" });
    say("\nnix-deploy://reports/latest (first lines):");
    for (const line of String((contents[0] as { text: string }).text)
      .split("\n")
      .slice(0, 22))
      say(`  ${line}`);

    say("\nStopping razer's sshd, as if the machine went away...");
    await fleet.stopHost("razer");
    showFleet(
      (await server.client.callTool({ name: "fleet_list", arguments: {} })).structuredContent as FleetOut,
    );
  } finally {
    await server.close();
    await fleet.stop();
  }
  say("\nFleet stopped; every process it started is gone.");
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
