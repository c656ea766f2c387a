/**
 * The magic rollback window on the simulated fleet, measured on the host: a host that nobody can
 * confirm (its sshd is stopped while it activates) must keep the new system for the whole
 * confirmTimeoutSec and revert right after it. For windows of 10, 30 and 60 s (BENCH_WINDOWS to
 * choose others), on an idle machine and with every CPU kept busy, it prints how long the host ran
 * the new system by its own clock, how far past the window it reverted, and the ratio to the window
 * (goal: held ≥ window, reverted within 2 s after it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { deploy } from "../src/engine/deploy/deployment.js";
import { createEngine } from "../src/engine/engine.js";
import { fleetUnavailableReason, type SimFleet, startFleet } from "../test/fleet/harness.js";

const WINDOWS = (process.env.BENCH_WINDOWS ?? "10,30,60").split(",").map(Number);
const HOST = "razer";

/** Alternates a package in or out, so that each deploy has a real change. */
let toggled = false;
async function change(fleet: SimFleet): Promise<void> {
  fleet.editHost(HOST, (text) =>
    toggled ? text.replace('"postgresql" "htop"', '"htop"') : text.replace('"htop"', '"postgresql" "htop"'),
  );
  toggled = !toggled;
  await fleet.commit(`bench change ${Date.now()}`);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("bench: timed out waiting for the host");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The supervisor's result of the newest activation directory not in `known`, if any. */
function newResult(runDir: string, known: Set<string>): { dir?: string; result?: string } {
  const dir = existsSync(runDir) ? readdirSync(runDir).find((d) => !known.has(d)) : undefined;
  if (!dir) return {};
  const file = join(runDir, dir, "result");
  return { dir, result: existsSync(file) ? readFileSync(file, "utf8").trim() : undefined };
}

/** Seconds the host ran the system it was given before it reverted, by the host's own clock. */
async function holdOnce(fleet: SimFleet, engine: ReturnType<typeof createEngine>, window: number) {
  await change(fleet);
  const runDir = join(fleet.runDir(HOST), "nix-deploy");
  const known = new Set(existsSync(runDir) ? readdirSync(runDir) : []);
  const pending = deploy(engine, { hosts: [HOST], mode: "fast", confirmTimeoutSec: window });
  await until(() => {
    const { dir } = newResult(runDir, known);
    const log = dir && join(runDir, dir, "activation.log");
    return log !== undefined && existsSync(log) && readFileSync(log, "utf8").includes("activating");
  }, 120_000);
  await fleet.stopHost(HOST);
  await until(() => newResult(runDir, known).result !== undefined, (window + 120) * 1000);
  await fleet.startHost(HOST);
  const result = await pending;
  const host = result.hosts[0];
  if (host?.outcome !== "rolled-back") throw new Error(`bench: expected a rollback, got ${host?.outcome}`);
  const switches = fleet.switches(HOST);
  const to = switches.findLastIndex((s) => s.system === host.newSystem);
  const back = switches[to + 1];
  if (!back) throw new Error("bench: the host never switched back");
  return back.atSec - (switches[to]?.atSec as number);
}

/** Keeps every CPU busy until stopped; each process is stopped by its pid. */
function load(): () => void {
  const burners: ChildProcess[] = [];
  for (let i = 0; i < availableParallelism(); i++)
    burners.push(spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
  return () => {
    for (const burner of burners) if (burner.pid) process.kill(burner.pid, "SIGKILL");
  };
}

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stdout.write(`confirmation window benchmark skipped: ${unavailable}\n`);
    return;
  }
  const fleet = await startFleet({ hosts: [HOST] });
  fleet.editHost(HOST, (text) =>
    text.replace("activation = { fail = false;", "activation = { delaySeconds = 2; fail = false;"),
  );
  const engine = createEngine({
    flake: fleet.flakeDir,
    env: { ...process.env, ...fleet.env, LOG_LEVEL: "warn" },
    logFile: false,
  });
  const lines = ["confirmation window, held by a host nobody can confirm (host clock)"];
  try {
    for (const loaded of [false, true]) {
      for (const window of WINDOWS) {
        const stop = loaded ? load() : () => undefined;
        let held: number;
        try {
          held = await holdOnce(fleet, engine, window);
        } finally {
          stop();
        }
        lines.push(
          `  ${loaded ? "loaded" : "idle  "} window ${String(window).padStart(3)} s: held ${held.toFixed(2)} s, ` +
            `reverted ${(held - window).toFixed(2)} s after it, ratio held/window ${(held / window).toFixed(3)}` +
            ` (goal: ≥ 1, reverted ≤ 2 s after)`,
        );
        process.stderr.write(`${lines.at(-1)}\n`);
      }
    }
  } finally {
    await engine.close();
    await fleet.stop();
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

void main();
