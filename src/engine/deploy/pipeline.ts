import { dirname, resolve } from "node:path";
import { z } from "zod";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { discoverFleet, type Fleet, type Host, selectFlakeHosts, selectHost } from "../fleet/hosts.js";
import { hostStatus } from "../fleet/status.js";
import { loadPlan, type StoredPlan } from "../plan.js";
import { mapLimit } from "../process.js";
import { checkSigningKeyFile, servedFlake, signingKeyRoots } from "../trust.js";
import {
  DEFAULT_CONFIRM_TIMEOUT_SEC,
  earlierActivationBoundSec,
  newNonce,
  settleEarlierActivations,
} from "./activation.js";
import { buildLocally, realiseOnHost } from "./build.js";
import {
  describePackageChange,
  type PackageChange,
  parseDiffClosures,
  parseUnitChanges,
  UNIT_CHANGES_SCRIPT,
  type UnitChange,
} from "./changes.js";
import { copyClosure } from "./copy.js";
import { checkHealth, type ResourceFigures } from "./health.js";
import { acquireHostLock } from "./lock.js";
import {
  type DeploymentRecord,
  DeploymentStore,
  type HostOutcome,
  type HostRecord,
  newDeploymentId,
  type PhaseRecord,
} from "./record.js";
import { switchAndVerify } from "./switch.js";
import { type ValidationCheck, validateForMode } from "./validation.js";

/**
 * The deployment pipeline, per host and in parallel with a limit:
 *   lock → build → probe (rollback point) → change detection → copy → activate under magic rollback
 *   → health → verify `/run/current-system`.
 * A host whose new system equals the running one is skipped before any copy.
 */

export const deployModeSchema = z.enum(["standard", "fast", "emergency"]);
export const deployGoalSchema = z.enum(["switch", "boot", "test", "dry-activate"]);

/** Seconds the host waits for the deployer's confirmation before it reverts by itself. */
export const confirmTimeoutSchema = z
  .number()
  .int()
  .min(1)
  .max(3600)
  .optional()
  .describe(`magic rollback timeout in seconds (default ${DEFAULT_CONFIRM_TIMEOUT_SEC})`);

/** `nixos-rebuild --install-bootloader`: the activation runs with NIXOS_INSTALL_BOOTLOADER=1. */
export const installBootloaderSchema = z
  .boolean()
  .optional()
  .describe("install or reinstall the boot loader while activating (switch and boot goals)");

export const deployOptionsSchema = z.object({
  hosts: z.array(z.string().min(1)).min(1).optional().describe('host names, @tag, or "all"'),
  mode: deployModeSchema.optional().describe("standard (default), fast, or emergency"),
  goal: deployGoalSchema.optional().describe("switch (default), boot, test, dry-activate"),
  dryRun: z.boolean().optional().describe("build, detect changes and copy, but do not activate"),
  confirmTimeoutSec: confirmTimeoutSchema,
  installBootloader: installBootloaderSchema,
  resume: z.string().optional().describe('resume an interrupted deployment: its id, or "latest"'),
  planId: z.string().optional().describe("run the plan the plan tool returned: its hosts, mode and dry run"),
  buildHost: z
    .string()
    .min(1)
    .optional()
    .describe(
      "build every host's system on this host of the fleet, then copy it from there to each host (default: each host's inventory buildHost, else this machine)",
    ),
  signingKey: z
    .string()
    .min(1)
    .optional()
    .describe(
      "a Nix secret key file (in /etc/nix, ~/.config/nix or ~/.ssh) to sign each closure with before it is copied, for hosts whose nix-daemon does not trust the login user (default: the inventory's signingKey)",
    ),
  substituteOnDestination: z
    .boolean()
    .optional()
    .describe(
      "copy with nix copy --substitute-on-destination: each host first fetches what it can from its own binary caches (default false)",
    ),
});
export type DeployOptions = z.infer<typeof deployOptionsSchema> & { flake?: string };

const hostResultSchema = z.object({
  host: z.string(),
  outcome: z.enum(["deployed", "unchanged", "dry-run", "failed", "rolled-back", "pending"]),
  finishedEarlier: z.boolean().optional().describe("done by an earlier run of this deployment"),
  generationBefore: z.number().optional(),
  generationAfter: z.number().optional(),
  newSystem: z.string().optional(),
  packageChanges: z.array(z.string()).describe("name: old → new, at most 20"),
  packageChangeCount: z.number(),
  unitChanges: z.array(z.object({ unit: z.string(), action: z.string() })),
  durationMs: z.number(),
  error: z.string().optional(),
  connectionLost: z.boolean().optional(),
  notes: z.array(z.string()).optional().describe("things worth knowing that did not fail the host"),
  logs: z
    .record(z.string(), z.array(z.string()))
    .optional()
    .describe("journal lines of the units that failed"),
});
export type HostResult = z.infer<typeof hostResultSchema>;

export const deployResultSchema = z.object({
  deploymentId: z.string(),
  status: z.enum(["succeeded", "failed"]),
  mode: deployModeSchema,
  goal: deployGoalSchema,
  dryRun: z.boolean(),
  checks: z
    .array(
      z.object({
        check: z.string(),
        status: z.enum(["pass", "warn", "fail"]),
        durationMs: z.number(),
        detail: z.string(),
      }),
    )
    .describe("validation before any host: syntax, anti-patterns, security audit (by mode)"),
  summary: z.string(),
  hosts: z.array(hostResultSchema),
  next: z.string(),
});
export type DeployResult = z.infer<typeof deployResultSchema>;

/** Details that do not fit a short result; kept in the record for the report. */
export interface HostDetails {
  packages: PackageChange[];
  units: UnitChange[];
  resourcesBefore?: ResourceFigures;
  resourcesAfter?: ResourceFigures;
  activationLog: string[];
  dryActivation?: string[];
}

export interface DeployHooks {
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

const MAX_PACKAGE_LINES = 20;

export async function deploy(
  engine: Engine,
  options: DeployOptions,
  hooks: DeployHooks = {},
): Promise<DeployResult> {
  const store = new DeploymentStore(engine.env);
  let record: DeploymentRecord;
  if (options.resume) {
    // A resumed deployment runs as it was asked to the first time; a setting given beside
    // `resume` would be silently ignored, so it is refused instead.
    const given = RESUME_FIXED.filter((field) => options[field] !== undefined);
    if (given.length)
      throw new UserError(
        `resume continues deployment ${options.resume} with the settings it started with; ${given.join(", ")} cannot change them`,
        "call deploy with resume alone, or start a new deployment without resume",
      );
    record = store.resumable(options.resume, servedFlake(engine, options.flake));
    record.pid = process.pid;
    record.status = "running";
  } else {
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
    record = {
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
        buildHost: options.buildHost,
        signingKey: options.signingKey && resolve(options.signingKey),
      },
      hosts: {},
    };
  }
  const request = record.request;
  if (request.installBootloader && (request.goal === "test" || request.goal === "dry-activate"))
    throw new UserError(
      `installBootloader does nothing with the ${request.goal} goal: only switch and boot install a boot loader`,
      "use goal switch or boot, or leave installBootloader out",
    );
  const fleet = await discoverFleet(engine, {
    flake: request.flake,
    signal: hooks.signal,
    selectors: request.selectors,
  });
  const hosts = selectFlakeHosts(fleet, request.selectors);
  // Every named build host must exist before anything starts.
  for (const host of hosts) buildHostOf(fleet, host, request.buildHost);
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
  for (const host of hosts) record.hosts[host.name] ??= { outcome: "pending", phases: [] };
  store.save(record);
  engine.log.info(
    { deployment: record.id, hosts: hosts.map((h) => h.name), ...request },
    options.resume ? "deployment resumed" : "deployment started",
  );
  hooks.progress?.(
    `deployment ${record.id}: ${hosts.map((h) => h.name).join(", ")} (${request.mode}, ${request.goal}${request.dryRun ? ", dry run" : ""})`,
  );

  // Validation (by mode) runs while the hosts build and are probed; nothing reaches a host before
  // it has passed, and a failed check blocks every host.
  if (!record.checks) hooks.progress?.(`validating (${request.mode})`);
  const validation: Promise<ValidationCheck[]> = record.checks
    ? Promise.resolve(record.checks)
    : validateForMode(
        engine,
        request.flake,
        request.mode,
        hosts.map((h) => h.name),
        hooks.signal,
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
  const results = await mapLimit(hosts, engine.parallelism, async (host) => {
    const hostRecord = record.hosts[host.name] as HostRecord;
    if (hostRecord.outcome === "deployed" || hostRecord.outcome === "unchanged") {
      hostRecord.finishedEarlier = true;
      hooks.progress?.(`${host.name}: ${hostRecord.outcome} in an earlier run, skipped`);
      return hostResultOf(host.name, hostRecord, { packages: [], units: [], activationLog: [] }, 0);
    }
    const started = Date.now();
    const hostDetails: HostDetails = { packages: [], units: [], activationLog: [] };
    details[host.name] = hostDetails;
    const step = (message: string) => hooks.progress?.(`${host.name}: ${message}`);
    let result: HostResult;
    try {
      result = await deployHost(engine, host, record, hostRecord, hostDetails, {
        builder: buildHostOf(fleet, host, request.buildHost),
        gate,
        save: () => store.save(record),
        step,
        signal: hooks.signal,
      });
    } catch (error) {
      // A host stopped by a failed validation was not touched: it stays pending.
      hostRecord.outcome = error instanceof ValidationBlocked ? "pending" : "failed";
      result = hostResultOf(host.name, hostRecord, hostDetails, Date.now() - started, {
        error: error instanceof ValidationBlocked ? undefined : describeError(error),
      });
    }
    result.durationMs = Date.now() - started;
    store.save(record);
    step(result.error ? `${result.outcome}: ${result.error}` : result.outcome);
    return result;
  });

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
    hosts: results,
    next: nextStep(results, record),
  };
  record.results = { result: deployResult, details };
  store.save(record);
  engine.log.info({ deployment: record.id, status: record.status }, "deployment finished");
  return deployResult;
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

/** Thrown at a host's gate when the deployment-wide validation failed. */
class ValidationBlocked extends Error {
  constructor(readonly check: string) {
    super(`blocked by ${check}`);
  }
}

/** The host that builds `host`'s system: the deployment's, else the inventory's; none builds here. */
function buildHostOf(fleet: Fleet, host: Host, requested: string | undefined): Host | undefined {
  const name = requested ?? host.buildHost;
  return name ? selectHost(fleet, name, "build host") : undefined;
}

interface HostContext {
  /** Builds the system, which is then copied from there; undefined builds on this machine. */
  builder?: Host;
  /** Resolves once validation passed; throws ValidationBlocked when it failed. */
  gate(): Promise<void>;
  save(): void;
  step(message: string): void;
  signal?: AbortSignal;
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
    context.save();
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
  const finish = (outcome: HostOutcome, extra: Partial<HostResult> = {}) => {
    hostRecord.outcome = outcome;
    return hostResultOf(host.name, hostRecord, details, Date.now() - started, {
      ...(notes.length ? { notes } : {}),
      ...extra,
    });
  };

  const lock = await phase("lock", async () => acquireHostLock(host.name, record.id, engine.env));
  if (lock.tookOverFrom) {
    const { deploymentId, pid } = lock.tookOverFrom;
    notes.push(`took over the lock of deployment ${deploymentId}, whose process (pid ${pid}) is gone`);
  }
  try {
    return await deployLocked();
  } finally {
    lock.release();
  }

  async function deployLocked(): Promise<HostResult> {
    const { builder } = context;
    context.step(builder ? `building on ${builder.name}` : "building");
    const newSystem = await phase("build", () =>
      builder
        ? realiseOnHost(engine, request.flake, host.name, builder, context.signal)
        : buildLocally(engine, request.flake, host.name, context.signal),
    );
    hostRecord.newSystem = newSystem;

    const before = await phase("probe", async () => {
      // An activation still waiting for its confirmation (a killed deployer's, or another
      // machine's) decides the host's system soon: wait for it rather than race it.
      // Both over the one multiplexed connection at once; the status is read again only if an
      // earlier activation had to finish first.
      const [earlier, firstStatus] = await Promise.all([
        settleEarlierActivations(
          engine,
          host,
          earlierActivationBoundSec(request.confirmTimeoutSec),
          context.signal,
        ),
        hostStatus(engine, host, context.signal),
      ]);
      notes.push(...earlier.notes);
      const status = earlier.waited ? await hostStatus(engine, host, context.signal) : firstStatus;
      if (!status.reachable)
        throw new UserError(
          `${host.name} does not answer over ssh: ${status.reason}`,
          `check that ${host.ssh.destination} is up and reachable`,
        );
      if (!status.currentSystem)
        throw new UserError(`${host.name} has no /run/current-system`, "is it a NixOS host?");
      return status;
    });
    hostRecord.previousSystem = before.currentSystem;
    hostRecord.generationBefore = before.generations.find((g) => g.current)?.number;
    await context.gate();
    if (before.currentSystem === newSystem) {
      context.step("no changes");
      hostRecord.generationAfter = hostRecord.generationBefore;
      return finish("unchanged");
    }

    context.step("copying closure");
    // The resource baseline is taken while the closure copies: both wait on the network.
    const [baseline] = await Promise.all([
      checkHealth(engine, host, { withLogs: false }),
      phase("copy", async () =>
        notes.push(
          ...(await copyClosure(engine, host, newSystem, {
            substituteOnDestination: request.substituteOnDestination,
            signal: context.signal,
            from: builder,
          })),
        ),
      ),
    ]);
    details.resourcesBefore = baseline.resources;
    await phase("changes", async () => {
      const changes = await detectChanges(engine, host, before.currentSystem as string, newSystem);
      details.packages = changes.packages;
      details.units = changes.units;
    });

    if (request.dryRun) {
      details.dryActivation = await phase("dry-activate", () => dryActivate(engine, host, newSystem));
      hostRecord.generationAfter = hostRecord.generationBefore;
      return finish("dry-run");
    }

    const goal = request.goal === "dry-activate" ? "switch" : request.goal;
    const switched = await phase("activate", () =>
      switchAndVerify(
        engine,
        host,
        {
          newSystem,
          goal,
          previousSystem: before.currentSystem as string,
          previousGeneration: hostRecord.generationBefore,
          confirmTimeoutSec: request.confirmTimeoutSec,
          installBootloader: request.installBootloader,
          nonce: newNonce(record.id, host.name),
        },
        details,
        { signal: context.signal, onStep: context.step },
      ),
    );
    hostRecord.supervisor = switched.supervisor;
    if (host.local && switched.outcome === "confirmed")
      notes.push("this machine: confirmed by the health check passing (there is no new login to prove)");
    hostRecord.generationAfter = switched.generationAfter;
    return finish(switched.outcome === "confirmed" ? "deployed" : switched.outcome, switched.extra);
  }
}

const CHANGES_SCRIPT = `
echo "@@packages"; nix --extra-experimental-features nix-command store diff-closures "$1" "$2" 2>&1
echo "@@units"; sh -c "$3" nix-deploy-units "$1" "$2"
exit 0
`;

/** Package versions and units that change, computed on the host, which holds both closures. */
export async function detectChanges(
  engine: Engine,
  host: Host,
  oldSystem: string,
  newSystem: string,
): Promise<{ packages: PackageChange[]; units: UnitChange[] }> {
  const result = await engine
    .connect(host)
    .run(["sh", "-c", CHANGES_SCRIPT, "nix-deploy-changes", oldSystem, newSystem, UNIT_CHANGES_SCRIPT], {
      timeoutMs: 120_000,
    });
  if (result.exitCode !== 0)
    throw new UserError(`could not compare systems on ${host.name}: ${result.stderr.trim()}`);
  const [packagesPart = "", unitsPart = ""] = result.stdout.split("@@units");
  return {
    packages: parseDiffClosures(packagesPart.replace("@@packages", "")),
    units: parseUnitChanges(unitsPart.split("\n")),
  };
}

async function dryActivate(engine: Engine, host: Host, newSystem: string): Promise<string[]> {
  const result = await engine
    .connect(host)
    .run([`${newSystem}/bin/switch-to-configuration`, "dry-activate"], { timeoutMs: 300_000, root: true });
  if (result.exitCode !== 0)
    throw new UserError(`dry activation on ${host.name} failed:\n${result.stderr.trim()}`);
  return `${result.stdout}${result.stderr}`.split("\n").filter((l) => l.trim() !== "");
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
