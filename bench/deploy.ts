/**
 * Deploy benchmarks on the simulated fleet (fast mode: the per-host work, not the flake-wide checks),
 * printed as ratios taken in one run:
 *   - 4 hosts in parallel against 4 in sequence, and against one host alone (goal: parallel ≤ 1.5x one);
 *   - a no-change deploy against a changed one;
 *   - the engine's fast-mode deploy of one host against the bare command sequence it runs
 *     (nix build, nix copy, nix-env --set, switch-to-configuration) (goal: ≤ 1.2x).
 */
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { deploy } from "../src/engine/deploy/deployment.js";
import { createEngine } from "../src/engine/engine.js";
import { fleetUnavailableReason, type SimFleet, startFleet } from "../test/fleet/harness.js";
import { median } from "./median.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HOSTS = ["p620", "p510", "razer", "samsung"];

/** Alternates a package in or out of every host, so each deploy has a real change. */
let toggled = false;
async function change(fleet: SimFleet): Promise<void> {
  for (const host of HOSTS) {
    fleet.editHost(host, (text) =>
      toggled ? text.replace('"postgresql" "htop"', '"htop"') : text.replace('"htop"', '"postgresql" "htop"'),
    );
  }
  toggled = !toggled;
  await fleet.commit(`bench change ${Date.now()}`);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stdout.write(`deploy benchmarks skipped: ${unavailable}\n`);
    return;
  }
  const fleet = await startFleet();
  const env = { ...process.env, ...fleet.env, LOG_LEVEL: "warn" };
  const parallel = createEngine({ flake: fleet.flakeDir, env, logFile: false, parallelism: 4 });
  const sequential = createEngine({ flake: fleet.flakeDir, env, logFile: false, parallelism: 1 });
  const samples = {
    parallel: [] as number[],
    sequential: [] as number[],
    one: [] as number[],
    unchanged: [] as number[],
    fast: [] as number[],
    bare: [] as number[],
  };
  const ok = (result: Awaited<ReturnType<typeof deploy>>) => {
    if (result.status !== "succeeded") throw new Error(`bench deploy failed: ${result.summary}`);
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await change(fleet);
      samples.parallel.push(
        await timed(async () => ok(await deploy(parallel, { hosts: HOSTS, mode: "fast" }))),
      );
      samples.unchanged.push(
        await timed(async () => ok(await deploy(parallel, { hosts: HOSTS, mode: "fast" }))),
      );
      await change(fleet);
      samples.sequential.push(
        await timed(async () => ok(await deploy(sequential, { hosts: HOSTS, mode: "fast" }))),
      );
      await change(fleet);
      samples.one.push(
        await timed(async () => ok(await deploy(parallel, { hosts: ["p620"], mode: "fast" }))),
      );
      await change(fleet);
      samples.fast.push(
        await timed(async () => ok(await deploy(parallel, { hosts: ["p620"], mode: "fast" }))),
      );
      await change(fleet);
      samples.bare.push(await timed(() => bareSequence(fleet, "p620")));
    }
  } finally {
    await parallel.close();
    await sequential.close();
    await fleet.stop();
  }
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<
    keyof typeof samples,
    number
  >;
  process.stdout.write(
    [
      `deploy on the simulated fleet (${ROUNDS} rounds, medians)`,
      `  4 hosts parallel: ${m.parallel.toFixed(0)} ms; 4 in sequence: ${m.sequential.toFixed(0)} ms; one host: ${m.one.toFixed(0)} ms`,
      `  ratio parallel/one host:       ${(m.parallel / m.one).toFixed(2)}x (goal ≤ 1.5x)`,
      `  ratio sequence/parallel:       ${(m.sequential / m.parallel).toFixed(2)}x`,
      `  ratio no-change/changed (4):   ${(m.unchanged / m.parallel).toFixed(2)}x`,
      `  ratio fast deploy/bare steps:  ${(m.fast / m.bare).toFixed(2)}x (goal ≤ 1.2x; bare ${m.bare.toFixed(0)} ms, engine ${m.fast.toFixed(0)} ms)`,
      "",
    ].join("\n"),
  );
}

/** What a person would type for one host, without any of the engine's checks. */
async function bareSequence(fleet: SimFleet, name: string): Promise<void> {
  const env = { ...process.env, ...fleet.env };
  const ssh = fleet.sshOptions(name);
  const built = await execa(
    "nix",
    [
      "build",
      "--no-link",
      "--json",
      `${fleet.flakeDir}#nixosConfigurations.${name}.config.system.build.toplevel`,
    ],
    { env },
  );
  const path = (JSON.parse(built.stdout) as Array<{ outputs: { out: string } }>)[0]?.outputs.out as string;
  await execa("nix", ["copy", "--to", "ssh://root@127.0.0.1", path], {
    env: { ...env, NIX_SSHOPTS: ssh.join(" ") },
  });
  await execa(
    "ssh",
    [
      ...ssh,
      "root@127.0.0.1",
      `nix-env -p /nix/var/nix/profiles/system --set ${path} && ${path}/bin/switch-to-configuration switch`,
    ],
    { env },
  );
}

void main();
