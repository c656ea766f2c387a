/**
 * Benchmarks, printed as ratios taken in one run (the machine is shared and noisy; no timed asserts).
 *
 * cold start: spawn the built stdio server, connect a real MCP client, get the `tools/list` answer.
 * Baseline: spawning `node -e ""` to exit, measured in the same run, so the ratio says what the
 * server adds over starting Node at all.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectStdio } from "../test/e2e/client.js";
import { median } from "./median.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function coldStartToToolsList(env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const server = await connectStdio([], env);
  await server.client.listTools();
  const elapsed = performance.now() - started;
  await server.close();
  return elapsed;
}

function nodeBaseline(): number {
  const started = performance.now();
  spawnSync(process.execPath, ["-e", ""]);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), "nix-deploy-bench-"));
  const env = { XDG_STATE_HOME: state, LOG_LEVEL: "warn" };
  const server: number[] = [];
  const baseline: number[] = [];
  // Interleaved, so both see the same machine load.
  for (let i = 0; i < RUNS; i++) {
    baseline.push(nodeBaseline());
    server.push(await coldStartToToolsList(env));
  }
  rmSync(state, { recursive: true, force: true });
  const serverMedian = median(server);
  const baselineMedian = median(baseline);
  process.stdout.write(
    [
      `cold start to tools/list (stdio, ${RUNS} runs, interleaved)`,
      `  server median:      ${serverMedian.toFixed(1)} ms`,
      `  node -e "" median:  ${baselineMedian.toFixed(1)} ms`,
      `  ratio server/node:  ${(serverMedian / baselineMedian).toFixed(2)}x`,
      "",
    ].join("\n"),
  );
}

void main();
