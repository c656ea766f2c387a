/**
 * check_nixpkgs_issues, first and repeated, through the built stdio server and a real MCP client,
 * against the fake GitHub on 127.0.0.1 (printed, never asserted: the machine is shared and noisy).
 *
 * first:   cold cache, every search sent to the fake (octokit loaded on first use).
 * repeat:  the same packages again, answered from the disk cache; the fake counts the requests it
 *          got, which must be none. Goal: under 50 ms per repeated check.
 */
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { connectStdio } from "../test/e2e/client.js";
import { startFakeGithub } from "../test/support/fake-github.js";
import { CHANGING, scratchFlake } from "../test/support/issue-check.js";
import { median } from "./median.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function main(): Promise<void> {
  const fake = await startFakeGithub();
  const scratch = scratchFlake();
  const server = await connectStdio(["--flake", scratch.flake], {
    NIX_DEPLOY_GITHUB_API: fake.url,
    XDG_STATE_HOME: scratch.state,
    GITHUB_TOKEN: "",
    LOG_LEVEL: "warn",
  });
  const call = async () => {
    const started = performance.now();
    const result = await server.client.callTool({
      name: "check_nixpkgs_issues",
      arguments: { packages: CHANGING, newLockDate: "2026-11-20" },
    });
    const elapsed = performance.now() - started;
    const status = (result.structuredContent as { status?: string } | undefined)?.status;
    if (result.isError || status !== "ok") throw new Error(`check failed: ${JSON.stringify(result)}`);
    return elapsed;
  };
  try {
    const first = await call();
    const firstRequests = fake.requests.length;
    const repeats: number[] = [];
    for (let i = 0; i < RUNS; i++) repeats.push(await call());
    const repeatRequests = fake.requests.length - firstRequests;
    const repeat = median(repeats);
    process.stdout.write(
      [
        `check_nixpkgs_issues, ${CHANGING.length} packages (stdio, fake GitHub; repeat: median of ${RUNS})`,
        `  first check:         ${first.toFixed(1)} ms, ${firstRequests} HTTP requests`,
        `  repeated check:      ${repeat.toFixed(1)} ms, ${repeatRequests} HTTP requests in ${RUNS} checks (goal: 0 requests, < 50 ms)`,
        `  ratio repeat/first:  ${(repeat / first).toFixed(3)}x`,
        "",
      ].join("\n"),
    );
  } finally {
    await server.close();
    await fake.stop();
    rmSync(scratch.root, { recursive: true, force: true });
  }
}

void main();
