/**
 * A deployment from start to result: a new one (from the arguments, or from a plan) or an
 * interrupted one resumed, its hosts found, validation (by mode) started, every host taken through
 * its steps (./host-steps.ts) in parallel with a limit, and the result kept in the deployment's
 * record for the report:
 *   lock → build → probe (rollback point) → change detection → copy → activate under magic rollback
 *   → health → verify `/run/current-system`.
 * A host whose new system equals the running one is skipped before any copy.
 */

import { setMaxListeners } from "node:events";
import { dirname, resolve } from "node:path";
import { AUDITED } from "../analysis/audit.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { discoverFleet, type Fleet, type Host, selectFlakeHosts, selectHost } from "../fleet/hosts.js";
import { operation } from "../hooks.js";
import { loadPlan, type StoredPlan } from "../plan.js";
import { mapLimit, Semaphore } from "../process.js";
import { checkSigningKeyFile, servedFlake, signingKeyRoots } from "../trust.js";
import { DEFAULT_CONFIRM_TIMEOUT_SEC } from "./activation.js";
import { CachePushes, chooseCache, hostCache } from "./cache.js";
import { evaluationLimits, HostEvaluation, SYSTEM_DERIVATION } from "./evaluation.js";
import { deployHostRecorded, ValidationBlocked } from "./host-steps.js";
import { hostsInFlight, resolveLimits } from "./limits.js";
import { type DeploymentRecord, DeploymentStore, newDeploymentId } from "./record.js";
import type { DeployOptions, DeployResult, HostDetails, HostResult, ValidationCheck } from "./schemas.js";
import { validateForMode } from "./validation.js";
import { PARALLEL, planWaves, rollOut, rolloutOf } from "./waves.js";

export const deploy = operation<DeployOptions, DeployResult>(async (engine, options, hooks) => {
  const store = new DeploymentStore(engine.env);
  const record = options.resume ? resumeDeployment(engine, store, options) : newDeployment(engine, options);
  const request = record.request;
  if (request.installBootloader && (request.goal === "test" || request.goal === "dry-activate"))
    throw new UserError(
      `installBootloader does nothing with the ${request.goal} goal: only switch and boot install a boot loader`,
      "use goal switch or boot, or leave installBootloader out",
    );
  // Every host's steps listen on the deployment's signal (an ssh, a nix, a wait each): past ten,
  // Node would warn of a leak where there is none.
  if (hooks.signal) setMaxListeners(0, hooks.signal);
  const fleet = await discoverFleet(engine, {
    flake: request.flake,
    signal: hooks.signal,
    selectors: request.selectors,
  });
  const hosts = selectFlakeHosts(fleet, request.selectors);
  const waves = planWaves(fleet, hosts, request.rollout ?? PARALLEL);
  const limits = resolveLimits(request.limits, engine.env, fleet.limits);
  const running = { copy: new Semaphore(limits.copy), activate: new Semaphore(limits.activate) };
  // Every named build host must exist before anything starts.
  const builders = new Map(hosts.map((host) => [host.name, buildHostOf(fleet, host, request.buildHost)]));
  if (request.signingKey) {
    const key = checkSigningKeyFile(
      request.signingKey,
      "signingKey",
      signingKeyRoots(
        engine.inventoryFile ? dirname(resolve(engine.inventoryFile)) : undefined,
        engine.env.HOME,
      ),
    );
    for (const host of hosts) host.signingKey = key;
  }
  // The input may only pick among the inventory's caches, or none (see cache.ts).
  const cacheChoice = chooseCache(fleet.caches ?? [], request.cache);
  for (const host of hosts) host.cache = hostCache(cacheChoice, host.cache);
  const cachePushes = new CachePushes();
  for (const host of hosts) record.hosts[host.name] ??= { outcome: "pending", phases: [] };
  store.save(record);
  engine.log.info(
    { deployment: record.id, hosts: hosts.map((h) => h.name), ...request },
    options.resume ? "deployment resumed" : "deployment started",
  );
  hooks.progress(
    `deployment ${record.id}: ${hosts.map((h) => h.name).join(", ")} (${request.mode}, ${request.goal}${request.dryRun ? ", dry run" : ""})`,
  );

  // Every host is evaluated once, together with others in chunks (see evaluation.ts): its system
  // derivation for the build and, in standard mode, what the security audit reads; the hosts
  // without a build host are built here from those derivations.
  const evaluation = new HostEvaluation(
    engine,
    request.flake,
    hosts.map((host) => host.name),
    {
      attributes: request.mode === "standard" ? { ...SYSTEM_DERIVATION, ...AUDITED } : SYSTEM_DERIVATION,
      builtHere: new Set(hosts.filter((h) => !builders.get(h.name)).map((h) => h.name)),
      ...evaluationLimits(limits),
      signal: hooks.signal,
    },
  );
  record.limits = { ...limits, evalChunk: evaluation.chunkSize };

  // Validation (by mode) runs while the hosts build and are probed; nothing reaches a host before
  // it has passed, and a failed check blocks every host.
  if (!record.checks) hooks.progress(`validating (${request.mode})`);
  const validation: Promise<ValidationCheck[]> = record.checks
    ? Promise.resolve(record.checks)
    : validateForMode(
        engine,
        request.flake,
        request.mode,
        hosts.map((h) => h.name),
        hooks.signal,
        evaluation,
      ).then((checks) => {
        record.checks = checks;
        store.save(record);
        return checks;
      });
  const gate = async () => {
    const failed = (await validation).find((c) => c.status === "fail");
    if (failed) throw new ValidationBlocked(failed.check);
  };

  const details: Record<string, HostDetails> = {};
  const saver = store.saver(record);
  const deployWave = (wave: readonly Host[]) =>
    mapLimit(wave, hostsInFlight(limits), (host) =>
      deployHostRecorded(engine, host, record, details, {
        builder: builders.get(host.name),
        cachePushes,
        evaluation,
        running,
        gate,
        save: saver.save,
        flush: saver.flush,
        step: (message) => hooks.progress(`${host.name}: ${message}`),
        signal: hooks.signal,
      }),
    );
  const rollout = await rollOut(engine, hosts, waves, deployWave, request, hooks).finally(saver.flush);
  const results = rollout.results;

  const checks = await validation;
  const blocked = checks.find((c) => c.status === "fail");
  if (blocked) {
    record.status = "failed";
    const deployResult: DeployResult = {
      deploymentId: record.id,
      status: "failed",
      mode: request.mode,
      goal: request.goal,
      dryRun: request.dryRun,
      checks,
      summary: `blocked by ${blocked.check}: no host was touched`,
      hosts: results,
      next: `fix what ${blocked.check} found (${blocked.detail}), then deploy again; emergency mode skips the checks`,
    };
    record.results = { result: deployResult, details: {} };
    store.save(record);
    return deployResult;
  }
  const failed = results.filter((r) => r.outcome === "failed" || r.outcome === "rolled-back");
  record.status = failed.length ? "failed" : "succeeded";
  const deployResult: DeployResult = {
    deploymentId: record.id,
    status: record.status,
    mode: request.mode,
    goal: request.goal,
    dryRun: request.dryRun,
    checks,
    summary: summarize(results),
    ...(waves.length > 1 ? { waves: rollout.waves } : {}),
    hosts: results,
    next: nextStep(results, record),
  };
  record.results = { result: deployResult, details };
  store.save(record);
  engine.log.info({ deployment: record.id, status: record.status }, "deployment finished");
  return deployResult;
});

/** The record of an interrupted deployment, to run again as it was first asked to. */
function resumeDeployment(engine: Engine, store: DeploymentStore, options: DeployOptions): DeploymentRecord {
  // A resumed deployment runs as it was asked to the first time; a setting given beside
  // `resume` would be silently ignored, so it is refused instead.
  const given = RESUME_FIXED.filter((field) => options[field] !== undefined);
  if (given.length)
    throw new UserError(
      `resume continues deployment ${options.resume} with the settings it started with; ${given.join(", ")} cannot change them`,
      "call deploy with resume alone, or start a new deployment without resume",
    );
  const record = store.resumable(options.resume as string, servedFlake(engine, options.flake));
  record.pid = process.pid;
  record.status = "running";
  return record;
}

/** The record of a new deployment: from the arguments, or from the plan they name. */
function newDeployment(engine: Engine, options: DeployOptions): DeploymentRecord {
  const now = new Date().toISOString();
  // A plan fixes what runs: its hosts, mode and dry run win over the other arguments.
  const plan = options.planId ? loadPlan(engine, options.planId) : undefined;
  if (plan && plan.action !== "deploy")
    throw new UserError(
      `plan ${plan.planId} is a ${plan.action}, not a deploy`,
      "call the tools its phases name",
    );
  if (plan) {
    assertAgreesWithPlan(plan, options);
    options = {
      ...options,
      hosts: plan.hosts,
      mode: plan.mode,
      dryRun: plan.dryRun || options.dryRun,
      flake: plan.flake,
    };
  }
  if (options.goal === "dry-activate" && options.dryRun === false)
    throw new UserError(
      "goal dry-activate only shows what activation would do, so it cannot be run with dryRun: false",
      'leave dryRun out with goal "dry-activate", or choose the goal switch, boot or test',
    );
  // A dry run activates nothing, so the settings of an activation would be accepted and ignored.
  const activationOnly = (["confirmTimeoutSec", "installBootloader"] as const).filter(
    (field) => options[field] !== undefined,
  );
  if ((options.dryRun || options.goal === "dry-activate") && activationOnly.length)
    throw new UserError(
      `${activationOnly.join(" and ")} ${activationOnly.length === 1 ? "applies" : "apply"} only to an activation, and a dry run activates nothing`,
      `leave ${activationOnly.join(" and ")} out of a dry run, or deploy without dryRun`,
    );
  return {
    id: newDeploymentId(),
    pid: process.pid,
    createdAt: now,
    updatedAt: now,
    status: "running",
    request: {
      flake: servedFlake(engine, options.flake),
      selectors: options.hosts ?? ["all"],
      mode: options.mode ?? "standard",
      goal: options.goal ?? "switch",
      dryRun: options.dryRun ?? options.goal === "dry-activate",
      confirmTimeoutSec: options.confirmTimeoutSec ?? DEFAULT_CONFIRM_TIMEOUT_SEC,
      substituteOnDestination: options.substituteOnDestination ?? false,
      installBootloader: options.installBootloader || undefined,
      rollout: rolloutOf(options),
      limits: options.limits,
      buildHost: options.buildHost,
      signingKey: options.signingKey && resolve(options.signingKey),
      cache: options.cache,
    },
    hosts: {},
  };
}

/** What a resumed deployment keeps from its first run: none of these may be given with `resume`. */
const RESUME_FIXED = [
  "hosts",
  "mode",
  "goal",
  "dryRun",
  "confirmTimeoutSec",
  "planId",
  "substituteOnDestination",
  "buildHost",
  "signingKey",
  "cache",
  "strategy",
  "canary",
  "batchSize",
  "onFailure",
  "limits",
] as const satisfies ReadonlyArray<keyof DeployOptions>;

/**
 * A plan fixes the hosts, the mode and a dry run; arguments that say otherwise would be overruled
 * without a word, so they are refused. Arguments that agree with the plan are accepted.
 */
function assertAgreesWithPlan(plan: StoredPlan, options: DeployOptions): void {
  const conflicts: string[] = [];
  const sorted = (list: readonly string[]) => [...list].sort().join(", ");
  if (options.hosts && sorted(options.hosts) !== sorted(plan.hosts))
    conflicts.push(`hosts ${sorted(options.hosts)} (the plan's: ${sorted(plan.hosts)})`);
  if (options.mode && options.mode !== plan.mode)
    conflicts.push(`mode ${options.mode} (the plan's: ${plan.mode})`);
  if (options.dryRun === false && plan.dryRun) conflicts.push("dryRun: false (the plan is a dry run)");
  if (conflicts.length)
    throw new UserError(
      `plan ${plan.planId} fixes what runs, and these arguments differ from it: ${conflicts.join("; ")}`,
      "leave them out to run the plan, or make a new plan for what you want",
    );
}

function summarize(results: HostResult[]): string {
  const counts = new Map<string, string[]>();
  for (const r of results) counts.set(r.outcome, [...(counts.get(r.outcome) ?? []), r.host]);
  return [...counts.entries()].map(([outcome, hosts]) => `${outcome}: ${hosts.join(", ")}`).join("; ");
}

function nextStep(results: HostResult[], record: DeploymentRecord): string {
  // A host whose activation started but whose outcome never reached us (interrupted, connection
  // lost) may run the new system right now: its supervisor reverts it when the window closes.
  const undecided = results.filter((r) => r.outcome === "failed" && /reverts by itself/.test(r.error ?? ""));
  if (undecided.length) {
    return `${undecided.map((r) => r.host).join(", ")} ${undecided.length === 1 ? "reverts" : "revert"} by itself within ${record.request.confirmTimeoutSec} s of activation unless confirmed; check with host_status, then deploy again (resume with resume: "${record.id}")`;
  }
  if (results.some((r) => r.outcome === "failed" || r.outcome === "rolled-back")) {
    return `fix what the errors name, then deploy again; hosts that failed are on their previous generation (resume with resume: "${record.id}")`;
  }
  if (record.request.dryRun) return "review the changes, then deploy without dryRun";
  return "nothing to do; host_status shows each host's generations";
}

/** The host that builds `host`'s system: the deployment's, else the inventory's; none builds here. */
function buildHostOf(fleet: Fleet, host: Host, requested: string | undefined): Host | undefined {
  const name = requested ?? host.buildHost;
  return name ? selectHost(fleet, name, "build host") : undefined;
}
