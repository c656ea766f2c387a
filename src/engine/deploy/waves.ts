/**
 * Rollouts in waves: instead of every selected host at once, a canary (one host or a tag) first and
 * then the rest, or batches of N hosts (or N %) one after the other. The rollout stops at the first
 * wave in which a host fails, so a bad configuration reaches as few machines as possible; hosts of
 * earlier waves keep their new system unless the rollout asks for them to be rolled back too.
 */
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { type Fleet, type Host, selectHosts } from "../fleet/hosts.js";
import type { Hooks } from "../hooks.js";
import type { DeploymentRequest } from "./record.js";
import type { HostResult, Rollout, rolloutInput } from "./schemas.js";

export interface Wave {
  /** "all", "canary", "rest", or "batch 2 of 4". */
  name: string;
  hosts: string[];
}

const DEFAULT_BATCH = "25%";

/**
 * The rollout a deploy call asks for. A field that belongs to another strategy would change
 * nothing, so it is refused rather than ignored.
 */
export function rolloutOf(input: Partial<Record<keyof typeof rolloutInput, unknown>>): Rollout {
  const strategy = (input.strategy as Rollout["strategy"] | undefined) ?? "parallel";
  if (input.canary !== undefined && strategy !== "canary")
    throw new UserError(
      `canary names the first wave of a canary rollout, and the strategy is ${strategy}`,
      'add strategy: "canary", or leave canary out',
    );
  if (input.batchSize !== undefined && strategy !== "batches")
    throw new UserError(
      `batchSize sizes the waves of a batches rollout, and the strategy is ${strategy}`,
      'add strategy: "batches", or leave batchSize out',
    );
  if (input.onFailure !== undefined && strategy === "parallel")
    throw new UserError(
      "onFailure decides what happens when a wave fails, and a parallel deployment has a single wave",
      'choose strategy "canary" or "batches", or leave onFailure out',
    );
  return {
    strategy,
    canary: input.canary as string[] | undefined,
    batchSize: input.batchSize as string | undefined,
    onFailure: (input.onFailure as Rollout["onFailure"] | undefined) ?? "stop",
  };
}

/** Hosts per batch: "3" is three hosts, "25%" a quarter of them rounded up; at least one. */
export function batchHosts(batchSize: string, total: number): number {
  const percent = batchSize.endsWith("%");
  const value = Number.parseInt(batchSize, 10);
  if (!Number.isInteger(value) || value < 1 || (percent && value > 100))
    throw new UserError(
      `batchSize ${batchSize} is not a number of hosts or a percentage from 1% to 100%`,
      'give a number of hosts ("3") or a percentage ("25%")',
    );
  return Math.max(1, percent ? Math.ceil((value * total) / 100) : value);
}

/** The waves in which `hosts` (already selected, in order) are deployed. */
export function planWaves(fleet: Fleet, hosts: readonly Host[], rollout: Rollout): Wave[] {
  const names = hosts.map((h) => h.name);
  if (rollout.strategy === "parallel" || names.length === 0) return [{ name: "all", hosts: names }];
  if (rollout.strategy === "canary") {
    const canary = rollout.canary ? selectHosts(fleet, rollout.canary).map((h) => h.name) : names.slice(0, 1);
    const outside = canary.filter((name) => !names.includes(name));
    if (outside.length)
      throw new UserError(
        `the canary ${outside.join(", ")} is not among the hosts being deployed`,
        `choose the canary among: ${names.join(", ")}`,
      );
    if (canary.length === names.length)
      throw new UserError(
        "the canary is every host being deployed, so nothing would wait for it",
        "name fewer canary hosts, or deploy without a strategy",
      );
    return [
      { name: "canary", hosts: canary },
      { name: "rest", hosts: names.filter((name) => !canary.includes(name)) },
    ];
  }
  const size = batchHosts(rollout.batchSize ?? DEFAULT_BATCH, names.length);
  const count = Math.ceil(names.length / size);
  return Array.from({ length: count }, (_, i) => ({
    name: `batch ${i + 1} of ${count}`,
    hosts: names.slice(i * size, (i + 1) * size),
  }));
}

/** One wave of all the hosts: what a deployment without a strategy does. */
export const PARALLEL: Rollout = { strategy: "parallel", onFailure: "stop" };

export interface WaveOutcome extends Wave {
  outcome: "succeeded" | "failed" | "not started" | "rolled back";
}

const failedOutcome = (r: HostResult) => r.outcome === "failed" || r.outcome === "rolled-back";

/**
 * Deploys the waves one after the other, each with `deployWave`, and stops at the first wave in
 * which a host failed: later waves are not started (their hosts stay pending, so resuming the
 * deployment continues them). With onFailure "rollback", the hosts that earlier waves deployed
 * return to the generation they had, under the same magic rollback as any rollback.
 */
export async function rollOut(
  engine: Engine,
  hosts: readonly Host[],
  waves: readonly Wave[],
  deployWave: (hosts: readonly Host[]) => Promise<HostResult[]>,
  request: DeploymentRequest,
  hooks: Hooks,
): Promise<{ results: HostResult[]; waves: WaveOutcome[] }> {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const results = new Map<string, HostResult>();
  const outcomes: WaveOutcome[] = [];
  let failed: WaveOutcome | undefined;
  for (const [i, wave] of waves.entries()) {
    if (failed) {
      outcomes.push({ ...wave, outcome: "not started" });
      for (const name of wave.hosts) results.set(name, notStarted(name, failed.name));
      continue;
    }
    if (waves.length > 1)
      hooks.progress(`wave ${i + 1} of ${waves.length} (${wave.name}): ${wave.hosts.join(", ")}`);
    const done = await deployWave(wave.hosts.map((name) => byName.get(name) as Host));
    for (const result of done) results.set(result.host, result);
    const outcome: WaveOutcome = { ...wave, outcome: done.some(failedOutcome) ? "failed" : "succeeded" };
    outcomes.push(outcome);
    if (outcome.outcome === "failed") failed = outcome;
  }
  if (failed && request.rollout?.onFailure === "rollback" && !request.dryRun) {
    for (const wave of outcomes.filter((w) => w.outcome === "succeeded")) {
      const deployed = wave.hosts.filter((name) => results.get(name)?.outcome === "deployed");
      const returned = await Promise.all(
        deployed.map((name) =>
          returnHost(engine, results.get(name) as HostResult, failed.name, request, hooks),
        ),
      );
      for (const result of returned) results.set(result.host, result);
      if (returned.every((r) => r.outcome === "rolled-back")) wave.outcome = "rolled back";
    }
  }
  return { results: hosts.map((h) => results.get(h.name) as HostResult), waves: outcomes };
}

function notStarted(host: string, failedWave: string): HostResult {
  return {
    host,
    outcome: "pending",
    packageChanges: [],
    packageChangeCount: 0,
    unitChanges: [],
    durationMs: 0,
    notes: [`not started: the rollout stopped when wave "${failedWave}" failed`],
  };
}

/** A host of an earlier wave back on the generation it had before this deployment. */
async function returnHost(
  engine: Engine,
  result: HostResult,
  failedWave: string,
  request: DeploymentRequest,
  hooks: Hooks,
): Promise<HostResult> {
  const { rollback } = await import("./rollback.js");
  const back = await rollback(
    engine,
    {
      flake: request.flake,
      hosts: [result.host],
      generation: result.generationBefore,
      confirmTimeoutSec: request.confirmTimeoutSec,
    },
    { ...hooks, progress: (message) => hooks.progress(`${result.host}: ${message}`) },
  ).catch((error: unknown) => ({ hosts: [{ outcome: "failed", error: describeError(error) }] }));
  const host = back.hosts[0] as { outcome: string; generationAfter?: number; error?: string };
  return host.outcome === "switched"
    ? {
        ...result,
        outcome: "rolled-back",
        generationAfter: host.generationAfter,
        notes: [
          ...(result.notes ?? []),
          `returned to generation ${host.generationAfter} because wave "${failedWave}" failed`,
        ],
      }
    : {
        ...result,
        notes: [
          ...(result.notes ?? []),
          `could not return to generation ${result.generationBefore} after wave "${failedWave}" failed: ${host.error ?? host.outcome}`,
        ],
      };
}
