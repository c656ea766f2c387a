/**
 * Benchmarks, printed as ratios taken in one run (the machine is shared and noisy; no timed asserts).
 *
 * cold start: spawn the built stdio server, connect a real MCP client, get the `tools/list` answer.
 * Baseline: the same for the MCP SDK's minimal one-tool server (bench/minimal-server.mjs), measured
 * in the same run and interleaved, so the ratio says what nix-deploy adds over any SDK server. The
 * goal is at most 1.2x: an assistant starts the server at every session, and waits for it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { SERVER_ENTRY } from "../test/e2e/client.js";
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
  const server: number[] = [];
  const minimal: number[] = [];
  // One unmeasured start of each first: the first run pays for a cold file cache.
  await coldStartToToolsList(MINIMAL, env);
  await coldStartToToolsList(SERVER_ENTRY, env);
  // Interleaved, so both see the same machine load.
  for (let i = 0; i < RUNS; i++) {
    minimal.push(await coldStartToToolsList(MINIMAL, env));
    server.push(await coldStartToToolsList(SERVER_ENTRY, env));
  }
  rmSync(state, { recursive: true, force: true });
  const serverMedian = median(server);
  const minimalMedian = median(minimal);
  process.stdout.write(
    [
      `cold start to tools/list (stdio, ${RUNS} runs, interleaved)`,
      `  nix-deploy-mcp median:        ${serverMedian.toFixed(1)} ms`,
      `  minimal SDK server median:    ${minimalMedian.toFixed(1)} ms`,
      `  ratio nix-deploy/minimal:     ${(serverMedian / minimalMedian).toFixed(2)}x (goal ≤ 1.20x)`,
      "",
    ].join("\n"),
  );
}

void main();
