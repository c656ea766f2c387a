/**
 * Fleet size on the simulated fleet: a fast-mode deploy of a real change to 1, 10, 20 and 30 light
 * hosts (BENCH_SCALE_SIZES to choose others), with a fixture flake whose evaluation costs real work
 * (about 1 s of CPU and 200 MB per evaluator process, like a small nixpkgs: startFleet's
 * heavyEvaluation). For each size, from one run:
 *   - wall time, and its ratio to one host's (goal: 30 hosts ≤ 3x one host);
 *   - evaluator processes started: `nix eval` and `nix build` as the engine ran them, counted by a
 *     `nix` wrapper first on the engine's PATH (goal: ≤ ceil(hosts / chunk) evaluations);
 *   - the deployer's peak memory with every process it started (its ssh masters too, not the
 *     hosts), sampled from /proc every 100 ms (goal: linear in hosts, under 1 GiB at 30);
 *   - the evaluation chunk size (evalChunkSize; NIX_DEPLOY_EVAL_CHUNK overrides);
 *   - where the time went: each phase's median and longest duration per host, and the span from
 *     its first start to its last end over the fleet, from the deployment's record.
 * The deployment's default limits are used (NIX_DEPLOY_COPY_LIMIT, NIX_DEPLOY_ACTIVATE_LIMIT,
 * NIX_DEPLOY_BUILD_LIMIT, NIX_DEPLOY_EVAL_CHUNK override them).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { deploy } from "../src/engine/deploy/deployment.js";
import { evalChunkSize } from "../src/engine/deploy/evaluation.js";
import { hostsInFlight, resolveLimits } from "../src/engine/deploy/limits.js";
import { DeploymentStore } from "../src/engine/deploy/record.js";
import { createEngine } from "../src/engine/engine.js";
import { fleetUnavailableReason, lightHostNames, type SimFleet, startFleet } from "../test/fleet/harness.js";
import { bareSequence } from "./bare.js";
import { describeScaling, processStartScaling } from "./machine.js";
import { median } from "./median.js";

const SIZES = (process.env.BENCH_SCALE_SIZES ?? "1,10,20,30").split(",").map(Number);
const FLEET_SIZE = Math.max(...SIZES);
const MIB = 1024 ** 2;
const PAGE = 4096;
/** Clock ticks of /proc/PID/stat and /proc/stat (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

/** Alternates a package in or out of each named host, so that each deploy has a real change. */
const withPostgres = new Set<string>();
async function change(fleet: SimFleet, hosts: readonly string[]): Promise<void> {
  for (const host of hosts) {
    const added = withPostgres.has(host);
    fleet.editHost(host, (text) =>
      added ? text.replace('"postgresql" "htop"', '"htop"') : text.replace('"htop"', '"postgresql" "htop"'),
    );
    if (added) withPostgres.delete(host);
    else withPostgres.add(host);
  }
  await fleet.commit(`bench change of ${hosts.length} hosts`);
}

interface ProcEntry {
  ppid: number;
  rssBytes: number;
  comm: string;
  /** utime + stime + cutime + cstime in ms: its own CPU and that of the children it reaped. */
  cpuMs: number;
}

function readProcesses(): Map<number, ProcEntry> {
  const processes = new Map<number, ProcEntry>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid ... field 24 is rss in pages; comm may hold spaces and parentheses.
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    processes.set(Number(entry), {
      ppid: Number(fields[1]),
      rssBytes: Number(fields[21]) * PAGE,
      comm: stat.slice(stat.indexOf("(") + 1, close),
      cpuMs: [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) * TICK_MS,
    });
  }
  return processes;
}

/**
 * The deployer's processes: this one and its descendants, without the simulated hosts (their
 * unshare and nsenter subtrees, started by the same process), plus the ssh masters it left in the
 * background (ControlPersist forks them away from their parent; they name the control directory).
 */
function deployerRss(
  excluded: ReadonlySet<number>,
  controlDir: string,
): { own: number; children: number; masters: Map<number, number> } {
  const processes = readProcesses();
  const children = new Map<number, number[]>();
  for (const [pid, p] of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const roots = [process.pid];
  const masters = new Map<number, number>();
  for (const [pid, p] of processes) {
    if (p.comm !== "ssh" || p.ppid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(controlDir)) {
        roots.push(pid);
        masters.set(pid, p.cpuMs);
      }
    } catch {
      // exited meanwhile
    }
  }
  const seen = new Set<number>();
  let total = 0;
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop() as number;
    if (seen.has(pid) || excluded.has(pid)) continue;
    seen.add(pid);
    total += processes.get(pid)?.rssBytes ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  const own = processes.get(process.pid)?.rssBytes ?? 0;
  return { own, children: total - own, masters };
}

/**
 * CPU the simulated hosts have spent so far (ms): every process of their trees, live or zombie,
 * with the children each has reaped. Sessions end and are reaped by their sshd, so their CPU stays
 * counted in it; a process reaped by one that then exits moves into that one's parent.
 */
function hostsCpuMs(fleet: SimFleet): number {
  const processes = readProcesses();
  const children = new Map<number, number[]>();
  for (const [pid, p] of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const stack: number[] = [];
  for (const host of fleet.hosts.values())
    for (const pid of [host.unsharePid, host.nsenterPid]) if (pid) stack.push(pid);
  let total = 0;
  const seen = new Set<number>();
  while (stack.length) {
    const pid = stack.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += processes.get(pid)?.cpuMs ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** The machine's busy CPU (ms, all cores: everything but idle and iowait) and processes forked since boot. */
function machineCounters(): { busyMs: number; forks: number } {
  const stat = readFileSync("/proc/stat", "utf8");
  const cpu = (stat.split("\n")[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const busy = cpu.reduce((sum, v) => sum + v, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0);
  const forks = Number(/^processes (\d+)$/m.exec(stat)?.[1] ?? 0);
  return { busyMs: busy * TICK_MS, forks };
}

/** Samples the deployer's memory every 100 ms until stopped; keeps the peak. */
function sampleMemory(fleet: SimFleet) {
  const excluded = new Set<number>();
  for (const host of fleet.hosts.values())
    for (const pid of [host.unsharePid, host.nsenterPid]) if (pid) excluded.add(pid);
  const controlDir = fleet.env.NIX_DEPLOY_SSH_CONTROL_DIR as string;
  const peak = { total: 0, own: 0, children: 0, samples: 0, mastersCpuMs: 0 };
  // ssh masters live in the background, away from the deployer's tree: their CPU as last seen.
  const mastersCpu = new Map<number, number>();
  const sample = () => {
    const { own, children, masters } = deployerRss(excluded, controlDir);
    for (const [pid, ms] of masters) mastersCpu.set(pid, ms);
    peak.mastersCpuMs = [...mastersCpu.values()].reduce((sum, ms) => sum + ms, 0);
    peak.samples++;
    if (own + children > peak.total) Object.assign(peak, { total: own + children, own, children });
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** A `nix` first on the engine's PATH that logs each invocation, then runs the real one. */
async function nixWrapper(dir: string): Promise<{ binDir: string; log: string }> {
  const real = (await execa("sh", ["-c", "command -v nix"])).stdout.trim();
  const binDir = join(dir, "bench-bin");
  mkdirSync(binDir, { recursive: true });
  const log = join(dir, "nix-invocations.log");
  // One line per invocation (one append, so parallel ones do not mix): the subcommand is the first
  // word after the engine's global flags. The engine's arguments hold no newline.
  writeFileSync(join(binDir, "nix"), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(join(binDir, "nix"), 0o755);
  return { binDir, log };
}

/** Subcommands of the logged invocations: `eval` of the flake, `build` of derivations, `copy`, ... */
function invocations(log: string, from: number): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .slice(from)
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const words = line.trim().split(/\s+/);
      const at = words.indexOf("flakes");
      const subcommand = words[at + 1] ?? words[0] ?? "?";
      return subcommand === "store" ? `store ${words[at + 2] ?? ""}`.trim() : subcommand;
    });
}

interface PhaseStats {
  name: string;
  medianMs: number;
  maxMs: number;
  /** First start to last end over the fleet. */
  spanMs: number;
}

function phaseStats(store: DeploymentStore, id: string): { phases: PhaseStats[]; hostMedianMs: number } {
  const record = store.load(id);
  if (!record) throw new Error(`no record of deployment ${id}`);
  const byName = new Map<string, Array<{ start: number; ms: number }>>();
  const hostTotals: number[] = [];
  for (const host of Object.values(record.hosts)) {
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const phase of host.phases) {
      const start = Date.parse(phase.startedAt);
      const ms = phase.durationMs ?? 0;
      byName.set(phase.name, [...(byName.get(phase.name) ?? []), { start, ms }]);
      first = Math.min(first, start);
      last = Math.max(last, start + ms);
    }
    if (host.phases.length) hostTotals.push(last - first);
  }
  const phases = [...byName].map(([name, entries]) => ({
    name,
    medianMs: median(entries.map((e) => e.ms)),
    maxMs: Math.max(...entries.map((e) => e.ms)),
    spanMs: Math.max(...entries.map((e) => e.start + e.ms)) - Math.min(...entries.map((e) => e.start)),
  }));
  return { phases, hostMedianMs: median(hostTotals) };
}

interface SizeResult {
  hosts: number;
  wallMs: number;
  /** The deployer's CPU: this process, its children, its ssh masters. */
  cpuMs: number;
  /** The hosts' CPU: sshd, sessions, activation. */
  hostsCpuMs: number;
  /** All of the machine's busy CPU during the deploy, other work on it included. */
  machineBusyMs: number;
  /** Processes forked on the machine during the deploy (all of it). */
  forks: number;
  /** New ssh logins the hosts' sshd accepted. */
  logins: number;
  chunk: number;
  nix: string[];
  memory: { total: number; own: number; children: number; samples: number };
  baselineBytes: number;
  syntaxMs: number;
  phases: PhaseStats[];
  hostMedianMs: number;
}

function cpuOfSelfAndChildren(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime, stime, cutime, cstime (fields 14-17), in clock ticks.
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) * TICK_MS;
}

async function deployTo(fleet: SimFleet, hosts: string[], wrapper: { binDir: string; log: string }) {
  await change(fleet, hosts);
  const env = {
    ...process.env,
    ...fleet.env,
    PATH: `${wrapper.binDir}:${process.env.PATH ?? ""}`,
    LOG_LEVEL: "warn",
  };
  // A new engine per deploy, as each CLI run is: it starts its own ssh masters.
  const engine = createEngine({ flake: fleet.flakeDir, env, logFile: false });
  const limits = resolveLimits(undefined, env, undefined);
  const chunk = evalChunkSize(freemem(), limits.evalChunk);
  const logged = existsSync(wrapper.log) ? readFileSync(wrapper.log, "utf8").split("\n").length - 1 : 0;
  const baseline = readProcesses().get(process.pid)?.rssBytes ?? 0;
  const memory = sampleMemory(fleet);
  const cpu0 = cpuOfSelfAndChildren();
  const hosts0 = hostsCpuMs(fleet);
  const machine0 = machineCounters();
  const accepted0 = acceptedLogins(fleet, hosts);
  const started = performance.now();
  let result: Awaited<ReturnType<typeof deploy>>;
  try {
    result = await deploy(engine, { hosts, mode: "fast" });
  } finally {
    await engine.close();
  }
  const wallMs = performance.now() - started;
  const peak = memory.stop();
  const cpuMs = cpuOfSelfAndChildren() - cpu0 + peak.mastersCpuMs;
  const hostsCpu = hostsCpuMs(fleet) - hosts0;
  const machine1 = machineCounters();
  const notDeployed = result.hosts.filter((h) => h.outcome !== "deployed");
  if (result.status !== "succeeded" || notDeployed.length)
    throw new Error(`bench deploy of ${hosts.length} hosts did not deploy every host: ${result.summary}`);
  const { phases, hostMedianMs } = phaseStats(new DeploymentStore(env), result.deploymentId);
  return {
    hosts: hosts.length,
    wallMs,
    cpuMs,
    hostsCpuMs: hostsCpu,
    machineBusyMs: machine1.busyMs - machine0.busyMs,
    forks: machine1.forks - machine0.forks,
    logins: acceptedLogins(fleet, hosts) - accepted0,
    chunk,
    nix: invocations(wrapper.log, logged),
    memory: peak,
    baselineBytes: baseline,
    syntaxMs: result.checks.find((c) => c.check === "syntax")?.durationMs ?? 0,
    phases,
    hostMedianMs,
    parallelism: hostsInFlight(limits),
  };
}

/** The bare sequence for every host at once (what a loop of nixos-rebuild in the background does). */
async function bareTo(fleet: SimFleet, hosts: string[]): Promise<{ wallMs: number; busyMs: number }> {
  await change(fleet, hosts);
  const machine0 = machineCounters();
  const started = performance.now();
  await Promise.all(hosts.map((name) => bareSequence(fleet, name)));
  return { wallMs: performance.now() - started, busyMs: machineCounters().busyMs - machine0.busyMs };
}

/** ssh logins the hosts' sshd accepted so far (their logs). */
function acceptedLogins(fleet: SimFleet, hosts: readonly string[]): number {
  let logins = 0;
  for (const name of hosts) {
    const log = join(fleet.hosts.get(name)?.dir ?? "", "sshd.log");
    if (existsSync(log)) logins += (readFileSync(log, "utf8").match(/^Accepted /gm) ?? []).length;
  }
  return logins;
}

function count(list: string[], what: string): number {
  return list.filter((x) => x === what).length;
}

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stdout.write(`fleet-size benchmark skipped: ${unavailable}\n`);
    return;
  }
  // Before the fleet starts: how much a second core helps work made of short processes here.
  const scaling = await processStartScaling();
  const names = lightHostNames(FLEET_SIZE);
  const startedFleet = performance.now();
  const fleet = await startFleet({ hosts: names, heavyEvaluation: true });
  const fleetStartMs = performance.now() - startedFleet;
  const results: Array<SizeResult & { parallelism: number }> = [];
  const floor = new Map<number, { wallMs: number; busyMs: number }>();
  let backgroundBusy = 0;
  try {
    const wrapper = await nixWrapper(fleet.dir);
    // What the machine's other work costs while nothing is deployed (the machine may be shared).
    const idle0 = machineCounters();
    await new Promise((resolve) => setTimeout(resolve, 5000));
    backgroundBusy = (machineCounters().busyMs - idle0.busyMs) / 5000;
    // One untimed deploy first: the page cache and the store's first lookups are not one size's cost.
    await deployTo(fleet, [names[names.length - 1] as string], wrapper);
    for (const size of SIZES) results.push(await deployTo(fleet, names.slice(0, size), wrapper));
    // The floor: the bare nixos-rebuild sequence for one host, then for the largest size at once.
    for (const size of [1, FLEET_SIZE]) floor.set(size, await bareTo(fleet, names.slice(0, size)));
  } finally {
    await fleet.stop();
  }
  const one = results.find((r) => r.hosts === 1) ?? (results[0] as (typeof results)[number]);
  const mib = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB`;
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const cores = Number((await execa("nproc")).stdout.trim());
  const lines = [
    "fleet size on the simulated fleet: fast-mode deploy of a real change, one run per size",
    `  machine: ${cores} cores, ${mib(totalmem())} RAM, busy ${backgroundBusy.toFixed(2)} cores with other work before the run; ` +
      `${FLEET_SIZE} light hosts started in ${sec(fleetStartMs)}; evaluation ~1 s CPU and ~200 MB per evaluator process`,
    `  ${describeScaling(scaling)}`,
    `  hosts in flight ${one.parallelism}; chunk = hosts per evaluator process (from free memory, or NIX_DEPLOY_EVAL_CHUNK)`,
    "",
    "  hosts  wall     x one   chunk  evals  builds  nix runs  peak memory (node + children)  growth/host  CPU deployer  CPU hosts  CPU machine  logins  forks",
  ];
  for (const r of results) {
    const perHost =
      r.hosts > one.hosts ? mib((r.memory.total - one.memory.total) / (r.hosts - one.hosts)) : "";
    lines.push(
      [
        String(r.hosts).padStart(7),
        sec(r.wallMs).padStart(7),
        `${(r.wallMs / one.wallMs).toFixed(2)}x`.padStart(7),
        String(r.chunk).padStart(6),
        String(count(r.nix, "eval")).padStart(6),
        String(count(r.nix, "build")).padStart(7),
        String(r.nix.length).padStart(9),
        `${mib(r.memory.total)} (${mib(r.memory.own)} + ${mib(r.memory.children)})`.padStart(30),
        perHost.padStart(12),
        sec(r.cpuMs).padStart(13),
        sec(r.hostsCpuMs).padStart(10),
        sec(r.machineBusyMs).padStart(12),
        String(r.logins).padStart(7),
        String(r.forks).padStart(6),
      ].join(" "),
    );
  }
  const largest = results[results.length - 1] as (typeof results)[number];
  const evaluations = count(largest.nix, "eval");
  lines.push(
    "",
    `  ${largest.hosts} hosts against one: ${(largest.wallMs / one.wallMs).toFixed(2)}x (goal ≤ 3x); ` +
      `evaluator processes ${evaluations} for ceil(${largest.hosts} / ${largest.chunk}) = ${Math.ceil(largest.hosts / largest.chunk)} (goal: no more); ` +
      `peak memory ${mib(largest.memory.total)} (goal < 1024 MiB; node alone before the deploy: ${mib(largest.baselineBytes)})`,
    `  per host at ${largest.hosts}: ${sec((largest.wallMs - one.wallMs) / (largest.hosts - 1))} wall, ` +
      `${sec(largest.cpuMs / largest.hosts)} deployer CPU, ${sec(largest.hostsCpuMs / largest.hosts)} host CPU, ` +
      `${(largest.logins / largest.hosts).toFixed(1)} ssh logins, ${(largest.forks / largest.hosts).toFixed(0)} processes forked on the machine`,
    "",
    "  where the time went (from each deployment's record): per phase, median / longest per host, and span over the fleet",
  );
  const bareOne = floor.get(1);
  const bareAll = floor.get(FLEET_SIZE);
  if (bareOne && bareAll)
    lines.splice(
      lines.length - 2,
      0,
      `  the machine's floor: the bare nixos-rebuild sequence (its own nix build per host) for 1 host ${sec(bareOne.wallMs)} ` +
        `(${sec(bareOne.busyMs)} CPU), for ${FLEET_SIZE} at once ${sec(bareAll.wallMs)} (${sec(bareAll.busyMs)} CPU): ` +
        `${(bareAll.wallMs / bareOne.wallMs).toFixed(2)}x; nix-deploy's ${FLEET_SIZE} hosts took ${(largest.wallMs / bareAll.wallMs).toFixed(2)}x the bare ones' time`,
    );
  for (const r of results) {
    lines.push(
      `  ${r.hosts} host${r.hosts === 1 ? "" : "s"}: host median ${sec(r.hostMedianMs)}, syntax check ${sec(r.syntaxMs)}; nix: ${summarize(r.nix)}`,
    );
    for (const p of r.phases)
      lines.push(
        `    ${p.name.padEnd(10)} ${(p.medianMs / 1000).toFixed(2).padStart(6)} s / ${(p.maxMs / 1000).toFixed(2).padStart(6)} s   span ${(p.spanMs / 1000).toFixed(2).padStart(6)} s`,
      );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

function summarize(list: string[]): string {
  const counts = new Map<string, number>();
  for (const x of list) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${n} ${name}`).join(", ");
}

void main();
