/**
 * Benchmarks, printed as ratios taken in one run (the machine is shared and noisy; no timed asserts).
 *
 * cold start: spawn the stdio server, connect a real MCP client, get the `tools/list` answer. Measured
 * for the server as it ships (bundle/nix-deploy-mcp.js, which the plugin's .mcp.json and the npm
 * package's bin start) and as tsc builds it (dist/index.js, one file per module, what the tests run).
 * Baseline: the same for the MCP SDK's minimal one-tool server (bench/minimal-server.mjs), measured
 * in the same run and interleaved, so the ratio says what nix-deploy adds over any SDK server. The
 * goal is at most 1.2x for what ships: an assistant starts the server at every session, and waits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BUNDLE_ENTRY, SERVER_ENTRY } from "../test/e2e/client.js";
import { median } from "./median.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const MINIMAL = join(import.meta.dirname, "minimal-server.mjs");

/** Milliseconds from spawning `node SCRIPT` to the client holding its tools/list answer. */
async function coldStartToToolsList(script: string, env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [script],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: "ignore",
  });
  const client = new Client({ name: "nix-deploy-bench", version: "0.0.0" });
  await client.connect(transport);
  await client.listTools();
  const elapsed = performance.now() - started;
  await client.close();
  return elapsed;
}

async function main(): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), "nix-deploy-bench-"));
  const env = { XDG_STATE_HOME: state, LOG_LEVEL: "warn" };
  const servers = { minimal: MINIMAL, bundle: BUNDLE_ENTRY, dist: SERVER_ENTRY };
  const times: Record<keyof typeof servers, number[]> = { minimal: [], bundle: [], dist: [] };
  // One unmeasured start of each first: the first run pays for a cold file cache.
  for (const script of Object.values(servers)) await coldStartToToolsList(script, env);
  // Interleaved, so all see the same machine load.
  for (let i = 0; i < RUNS; i++)
    for (const [name, script] of Object.entries(servers))
      times[name as keyof typeof servers].push(await coldStartToToolsList(script, env));
  rmSync(state, { recursive: true, force: true });
  const [minimal, bundle, dist] = [median(times.minimal), median(times.bundle), median(times.dist)];
  process.stdout.write(
    [
      `cold start to tools/list (stdio, ${RUNS} runs, interleaved)`,
      `  minimal SDK server median:              ${minimal.toFixed(1)} ms`,
      `  bundle/nix-deploy-mcp.js median:        ${bundle.toFixed(1)} ms`,
      `  dist/index.js median:                   ${dist.toFixed(1)} ms`,
      `  ratio bundle/minimal (what ships):      ${(bundle / minimal).toFixed(2)}x (goal ≤ 1.20x)`,
      `  ratio dist/minimal (tsc's build):       ${(dist / minimal).toFixed(2)}x`,
      "",
    ].join("\n"),
  );
}

void main();
