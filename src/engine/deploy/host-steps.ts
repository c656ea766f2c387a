/**
 * One host's way through a deployment: its deploy lock, build, probe (the rollback point), the wait
 * for validation, change detection, copy, and the activation under magic rollback (./switch.ts).
 * Every step is a phase in the deployment's record, so that a resumed deployment and the report
 * see how far each host got.
 */
import type { Engine } from "../engine.js";
import { describeError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { deployKeys } from "../keys/deploy.js";
import type { Semaphore } from "../process.js";
import { ACTIVATION_TIMEOUT_SEC, newNonce, openActivationSession } from "./activation.js";
import { realiseOnHost } from "./build.js";
import { type CachePushes, cacheLabel } from "./cache.js";
import { describePackageChange, parseChanges } from "./changes.js";
import { copyClosure } from "./copy.js";
import type { HostEvaluation } from "./evaluation.js";
import { acquireHostLock } from "./host-lock.js";
import { detectChanges, dryActivate, type HostBefore, probeBeforeDeploy } from "./host-operations.js";
import type { DeploymentRecord, HostOutcome, HostRecord, PhaseRecord } from "./record.js";
import type { HostDetails, HostResult } from "./schemas.js";
import { type SwitchResult, switchAndVerify } from "./switch.js";

/** How many package changes a host's result lists; the count covers all of them. */
const MAX_PACKAGE_LINES = 20;

/** Thrown at a host's gate when the deployment-wide validation failed. */
export class ValidationBlocked extends Error {
  constructor(readonly check: string) {
    super(`blocked by ${check}`);
  }
}

export interface HostContext {
  /** Builds the system, which is then copied from there; undefined builds on this machine. */
  builder?: Host;
  /** The deployment's pushes to binary caches, one per closure (cache.ts). */
  cachePushes?: CachePushes;
  /** The deployment's hosts evaluated and built together here (when there is no builder). */
  evaluation: HostEvaluation;
  /** The deployment's limits on copies and activations at once (limits.ts). */
  running: { copy: Semaphore; activate: Semaphore };
  /** Resolves once validation passed; throws ValidationBlocked when it failed. */
  gate(): Promise<void>;
  /** Records a change of the host's record (written soon, with others). */
  save(): void;
  /** Writes the record now. */
  flush(): void;
  step(message: string): void;
  signal?: AbortSignal;
}

/**
 * Takes one host through the deployment and records what happened: a host finished by an earlier
 * run of the deployment is skipped; a host stopped by a failed validation stays pending; any other
 * failure is the host's outcome, with its error.
 */
export async function deployHostRecorded(
  engine: Engine,
  host: Host,
  record: DeploymentRecord,
  details: Record<string, HostDetails>,
  context: HostContext,
): Promise<HostResult> {
  const hostRecord = record.hosts[host.name] as HostRecord;
  if (hostRecord.outcome === "deployed" || hostRecord.outcome === "unchanged") {
    hostRecord.finishedEarlier = true;
    context.step(`${hostRecord.outcome} in an earlier run, skipped`);
    return hostResultOf(host.name, hostRecord, { packages: [], units: [], activationLog: [] }, 0);
  }
  const started = Date.now();
  const hostDetails: HostDetails = { packages: [], units: [], activationLog: [] };
  details[host.name] = hostDetails;
  let result: HostResult;
  try {
    result = await deployHost(engine, host, record, hostRecord, hostDetails, context);
  } catch (error) {
    // A host stopped by a failed validation was not touched: it stays pending.
    hostRecord.outcome = error instanceof ValidationBlocked ? "pending" : "failed";
    result = hostResultOf(host.name, hostRecord, hostDetails, Date.now() - started, {
      error: error instanceof ValidationBlocked ? undefined : describeError(error),
    });
  }
  result.durationMs = Date.now() - started;
  context.save();
  context.step(result.error ? `${result.outcome}: ${result.error}` : result.outcome);
  return result;
}

async function deployHost(
  engine: Engine,
  host: Host,
  record: DeploymentRecord,
  hostRecord: HostRecord,
  details: HostDetails,
  context: HostContext,
): Promise<HostResult> {
  const { request } = record;
  const started = Date.now();
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const entry: PhaseRecord = { name, startedAt: new Date().toISOString() };
    hostRecord.phases.push(entry);
    // A resumed deployment must know that an activation may have started on the host.
    if (name === "activate") context.flush();
    else context.save();
    const t0 = Date.now();
    try {
      const value = await work();
      entry.ok = true;
      return value;
    } catch (error) {
      entry.ok = false;
      entry.detail = describeError(error);
      throw error;
    } finally {
      entry.durationMs = Date.now() - t0;
      context.save();
    }
  };
  const notes: string[] = [];
  const keys = deployKeys(engine, host, { phase, step: context.step, signal: context.signal });
  const finish = (outcome: HostOutcome, extra: Partial<HostResult> = {}) => {
    hostRecord.outcome = outcome;
    return hostResultOf(host.name, hostRecord, details, Date.now() - started, {
      ...(notes.length ? { notes } : {}),
      ...(keys.uploaded.length ? { keys: keys.uploaded } : {}),
      ...extra,
    });
  };

  const lock = await phase("lock", async () => acquireHostLock(host.name, record.id, engine.env));
  if (lock.tookOverFrom) {
    const { deploymentId, pid } = lock.tookOverFrom;
    notes.push(`took over the lock of deployment ${deploymentId}, whose process (pid ${pid}) is gone`);
  }
  // The probe and the launch share one session on the host (a dry run launches nothing).
  const nonce = newNonce(record.id, host.name);
  const goal = request.goal === "dry-activate" ? "switch" : request.goal;
  const session = request.dryRun
    ? undefined
    : openActivationSession(
        engine,
        {
          host,
          goal,
          confirmTimeoutSec: request.confirmTimeoutSec,
          activationTimeoutSec: ACTIVATION_TIMEOUT_SEC,
          installBootloader: request.installBootloader,
          compareSystems: true,
        },
        nonce,
        context.signal,
      );
  try {
    return await deployLocked();
  } finally {
    session?.close();
    lock.release();
  }

  async function deployLocked(): Promise<HostResult> {
    const { builder } = context;
    context.step(builder ? `building on ${builder.name}` : "building");
    // The probe (the rollback point and the resource baseline) does not depend on the build: both
    // run at once, and a failed build waits for the probe so that nothing runs on unseen.
    const [built, probed] = await Promise.allSettled([
      phase("build", () =>
        builder
          ? realiseOnHost(
              engine,
              request.flake,
              host.name,
              builder,
              context.signal,
              context.evaluation.derivation(host.name),
            )
          : context.evaluation.build(host.name),
      ),
      phase("probe", async () => {
        const probe = await probeBeforeDeploy(
          engine,
          host,
          request.confirmTimeoutSec,
          context.signal,
          session,
        );
        notes.push(...probe.notes);
        return probe.before;
      }),
    ]);
    if (built.status === "rejected") throw built.reason;
    if (probed.status === "rejected") throw probed.reason;
    const newSystem = built.value;
    const before = probed.value;
    hostRecord.newSystem = newSystem;
    hostRecord.previousSystem = before.currentSystem;
    hostRecord.generationBefore = before.generation;
    details.resourcesBefore = before.resources;
    await context.gate();
    if (before.currentSystem === newSystem) {
      context.step("no changes");
      await keys.upload("all");
      hostRecord.generationAfter = hostRecord.generationBefore;
      return finish("unchanged");
    }

    context.step("copying closure");
    if (host.cache) hostRecord.cache = cacheLabel(host.cache);
    await context.running.copy.run(() =>
      phase("copy", async () =>
        notes.push(
          ...(await copyClosure(engine, host, newSystem, {
            substituteOnDestination: request.substituteOnDestination,
            signal: context.signal,
            from: builder,
            cachePushes: context.cachePushes,
          })),
        ),
      ),
    );
    // What changes is for the result and the report: the host compares the systems while it
    // activates, and the launch's answer (or the confirmation's, when it was late) brings the result
    // along. A dry run asks for it in a round trip of its own, as does a confirmed host whose
    // comparison came with neither. A failure to compare is a note, not the host's outcome.
    const compare = (output?: string) =>
      (output === undefined
        ? phase("changes", () => detectChanges(engine, host, before.currentSystem, newSystem))
        : Promise.resolve(parseChanges(output))
      ).then(
        (found) => {
          details.packages = found.packages;
          details.units = found.units;
        },
        (error: unknown) => {
          notes.push(`could not list what changes: ${describeError(error)}`);
        },
      );

    if (request.dryRun) {
      await compare();
      details.dryActivation = await phase("dry-activate", () => dryActivate(engine, host, newSystem));
      hostRecord.generationAfter = hostRecord.generationBefore;
      return finish("dry-run");
    }

    const switched = await context.running.activate.run(() => activate(newSystem, before));
    // A host that did not keep the new system is not asked again.
    if (switched.changes !== undefined || switched.outcome === "confirmed") await compare(switched.changes);
    hostRecord.supervisor = switched.supervisor;
    if (host.local && switched.outcome === "confirmed")
      notes.push("this machine: confirmed by the health check passing (there is no new login to prove)");
    hostRecord.generationAfter = switched.generationAfter;
    if (switched.outcome === "confirmed") await keys.upload("post-activation");
    return finish(switched.outcome === "confirmed" ? "deployed" : switched.outcome, switched.extra);
  }

  async function activate(newSystem: string, before: HostBefore): Promise<SwitchResult> {
    await keys.upload("pre-activation");
    return phase("activate", () =>
      switchAndVerify(
        engine,
        host,
        {
          newSystem,
          goal,
          previousSystem: before.currentSystem,
          previousGeneration: hostRecord.generationBefore,
          confirmTimeoutSec: request.confirmTimeoutSec,
          installBootloader: request.installBootloader,
          compareSystems: true,
          nonce,
        },
        details,
        { signal: context.signal, onStep: context.step, session },
      ),
    );
  }
}

function hostResultOf(
  name: string,
  record: HostRecord,
  details: HostDetails,
  durationMs: number,
  extra: Partial<HostResult> = {},
): HostResult {
  return {
    host: name,
    outcome: record.outcome,
    finishedEarlier: record.finishedEarlier,
    generationBefore: record.generationBefore,
    generationAfter: record.generationAfter,
    newSystem: record.newSystem,
    packageChanges: details.packages.slice(0, MAX_PACKAGE_LINES).map(describePackageChange),
    packageChangeCount: details.packages.length,
    unitChanges: details.units,
    durationMs,
    ...extra,
  };
}
