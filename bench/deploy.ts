/**
 * Per-host deploy cost on the simulated fleet, printed as ratios taken in one run (fast mode: the
 * per-host work, not the flake-wide checks). The floor is the bare sequence `nixos-rebuild
 * --target-host` runs for one host (nix build, nix copy, nix-env --set, switch-to-configuration),
 * on the same host and a closure of the same size, interleaved with the engine's rounds:
 *   - the engine's own time per host: its median wall time minus the bare sequence's (goal ≤ 1 s);
 *   - the CPU the machine spent (the deployer's and the host's processes) against the bare sequence's (goal ≤ 1.5x);
 *   - 3 changed hosts in parallel against one host alone (goal ≤ 1.5x on a 2-core machine), and the
 *     same ratio for the bare sequence run for the 3 at once: the floor the machine sets, since the
 *     simulated hosts work on the deployer's own cores;
 *   - a no-change deploy of the 3 against a changed one;
 *   - where one host's time goes: the median of each phase in the deployment's record.
 * CPU is counted for the processes the bench started (see cpuMeter).
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { deploy } from "../src/engine/deploy/deployment.js";
import { DeploymentStore } from "../src/engine/deploy/record.js";
import { createEngine } from "../src/engine/engine.js";
import { fleetUnavailableReason, type SimFleet, startFleet } from "../test/fleet/harness.js";
import { bareSequence } from "./bare.js";
import { describeScaling, processStartScaling } from "./machine.js";
import { median } from "./median.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ONE = "p620";
const THREE = ["p620", "p510", "razer"];

/** Alternates a package in or out of every host, so each deploy has a real change. */
let toggled = false;
async function change(fleet: SimFleet): Promise<void> {
  for (const host of THREE) {
    fleet.editHost(host, (text) =>
      toggled ? text.replace('"postgresql" "htop"', '"htop"') : text.replace('"htop"', '"postgresql" "htop"'),
    );
  }
  toggled = !toggled;
  await fleet.commit(`bench change ${Date.now()}`);
}

/**
 * CPU time spent so far by every process this bench started: the deployer, Nix, ssh, and the
 * simulated hosts with all they run. The bench moves itself into a cgroup of its own (its children
 * follow), so that other work on a shared machine does not count; without cgroups, the whole
 * machine's busy time from /proc/stat.
 */
function cpuMeter(): { cpuSec: () => number; scope: string; close: () => void } {
  const root = "/sys/fs/cgroup/unified";
  const group = join(root, `nix-deploy-bench-${process.pid}`);
  try {
    mkdirSync(group);
    writeFileSync(join(group, "cgroup.procs"), String(process.pid));
    return {
      scope: "every process the bench started (a cgroup of its own)",
      cpuSec: () => Number(/usage_usec (\d+)/.exec(readFileSync(join(group, "cpu.stat"), "utf8"))?.[1]) / 1e6,
      close: () => {
        writeFileSync(join(root, "cgroup.procs"), String(process.pid));
        // The group empties once the fleet's processes are gone.
        try {
          rmdirSync(group);
        } catch {}
      },
    };
  } catch {
    return {
      scope: "the whole machine (no cgroup here: run it on a quiet machine)",
      cpuSec: () => {
        const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string)
          .trim()
          .split(/\s+/)
          .slice(1);
        const [user, nice, system, , , irq, softirq, steal] = fields.map(Number) as number[];
        return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
      },
      close: () => {},
    };
  }
}
const meter = cpuMeter();

interface Sample {
  wallMs: number;
  cpuSec: number;
  /** Of which the bench's own process: the engine's JavaScript (and for the bare sequence, nothing). */
  ownCpuSec: number;
}

async function measured(work: () => Promise<unknown>): Promise<Sample> {
  const cpu = meter.cpuSec();
  const own = process.cpuUsage();
  const started = performance.now();
  await work();
  const ownUsed = process.cpuUsage(own);
  return {
    wallMs: performance.now() - started,
    cpuSec: meter.cpuSec() - cpu,
    ownCpuSec: (ownUsed.user + ownUsed.system) / 1e6,
  };
}

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stdout.write(`deploy benchmarks skipped: ${unavailable}\n`);
    return;
  }
  // Before the fleet starts: how much a second core helps work made of short processes here.
  const scaling = await processStartScaling();
  const fleet = await startFleet();
  const env = { ...process.env, ...fleet.env, LOG_LEVEL: "warn" };
  const engine = createEngine({ flake: fleet.flakeDir, env, logFile: false });
  const store = new DeploymentStore(env);
  const samples = {
    one: [] as Sample[],
    bare: [] as Sample[],
    three: [] as Sample[],
    bareThree: [] as Sample[],
    unchanged: [] as Sample[],
  };
  const phases = new Map<string, number[]>();
  const deployed = async (hosts: string[]) => {
    const result = await deploy(engine, { hosts, mode: "fast" });
    if (result.status !== "succeeded") throw new Error(`bench deploy failed: ${result.summary}`);
    return result;
  };
  try {
    // One unmeasured round first: the first deploy pays for cold caches on both sides.
    await change(fleet);
    await deployed([ONE]);
    await change(fleet);
    await bareSequence(fleet, ONE);
    for (let round = 0; round < ROUNDS; round++) {
      await change(fleet);
      let id = "";
      samples.one.push(
        await measured(async () => {
          id = (await deployed([ONE])).deploymentId;
        }),
      );
      for (const phase of store.load(id)?.hosts[ONE]?.phases ?? [])
        phases.set(phase.name, [...(phases.get(phase.name) ?? []), phase.durationMs ?? 0]);
      await change(fleet);
      samples.bare.push(await measured(() => bareSequence(fleet, ONE)));
      await change(fleet);
      samples.three.push(await measured(() => deployed(THREE)));
      samples.unchanged.push(await measured(() => deployed(THREE)));
      await change(fleet);
      samples.bareThree.push(
        await measured(() => Promise.all(THREE.map((name) => bareSequence(fleet, name)))),
      );
    }
  } finally {
    await engine.close();
    await fleet.stop();
    meter.close();
  }
  const wall = (list: Sample[]) => median(list.map((s) => s.wallMs));
  const cpu = (list: Sample[]) => median(list.map((s) => s.cpuSec));
  const ownCpu = (list: Sample[]) => median(list.map((s) => s.ownCpuSec));
  const [one, bare, three, bareThree, unchanged] = [
    samples.one,
    samples.bare,
    samples.three,
    samples.bareThree,
    samples.unchanged,
  ];
  process.stdout.write(
    [
      `deploy on the simulated fleet (${ROUNDS} rounds, medians, fast mode; CPU of ${meter.scope})`,
      `  one host: engine ${wall(one).toFixed(0)} ms, ${cpu(one).toFixed(2)} CPU-s; bare nixos-rebuild sequence ${wall(bare).toFixed(0)} ms, ${cpu(bare).toFixed(2)} CPU-s`,
      `  of the engine's CPU, its own process (JavaScript): ${ownCpu(one).toFixed(2)} CPU-s`,
      `  engine's own time per host:    ${((wall(one) - wall(bare)) / 1000).toFixed(2)} s (goal ≤ 1 s)`,
      `  CPU ratio engine/bare:         ${(cpu(one) / cpu(bare)).toFixed(2)}x (goal ≤ 1.5x)`,
      `  3 hosts in parallel:           ${wall(three).toFixed(0)} ms, ${cpu(three).toFixed(2)} CPU-s`,
      `  ratio 3 hosts/one host:        ${(wall(three) / wall(one)).toFixed(2)}x (goal ≤ 1.5x)`,
      `  the same for the bare sequence: ${(wall(bareThree) / wall(bare)).toFixed(2)}x (3 at once: ${wall(bareThree).toFixed(0)} ms, ${cpu(bareThree).toFixed(2)} CPU-s; the machine's floor)`,
      `  the machine: ${describeScaling(scaling)}`,
      `  ratio no-change/changed (3):   ${(wall(unchanged) / wall(three)).toFixed(2)}x`,
      `  one host's phases (median ms): ${[...phases].map(([name, ms]) => `${name} ${median(ms).toFixed(0)}`).join(", ")}`,
      "",
    ].join("\n"),
  );
}

void main();
