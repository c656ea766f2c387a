import type { Engine } from "../engine.js";
import type { Host } from "../fleet/hosts.js";
import { hostStatus } from "../fleet/status.js";
import {
  ACTIVATION_TIMEOUT_SEC,
  type ActivationRequest,
  type ActivationSession,
  activateWithMagicRollback,
} from "./activation.js";
import { checkHealth, judgeHealth, unitLogs } from "./health.js";
import type { HostDetails, HostResult } from "./schemas.js";

/** What to activate and the rollback point: an activation request without the host, plus its nonce. */
export type SwitchRequest = Omit<ActivationRequest, "host" | "activationTimeoutSec"> & { nonce: string };

export interface SwitchResult {
  outcome: "confirmed" | "rolled-back" | "failed";
  generationAfter?: number;
  /** What ran the activation on the host, when it started. */
  supervisor?: "systemd-run" | "setsid";
  /** What changes.sh printed during the activation (request.compareSystems), when it finished in time. */
  changes?: string;
  extra: Partial<HostResult>;
}

/**
 * Activates a system under magic rollback, judges the host's health, and verifies where the host
 * ended: the shared end of deploy and rollback. Resource figures are taken before and after.
 */
export async function switchAndVerify(
  engine: Engine,
  host: Host,
  request: SwitchRequest,
  details: HostDetails,
  hooks: { signal?: AbortSignal; onStep?: (step: string) => void; session?: ActivationSession } = {},
): Promise<SwitchResult> {
  if (!details.resourcesBefore)
    details.resourcesBefore = (await checkHealth(engine, host, { withLogs: false })).resources;
  let healthLogs: Record<string, string[]> = {};
  const outcome = await activateWithMagicRollback(
    engine,
    {
      host,
      newSystem: request.newSystem,
      goal: request.goal,
      previousSystem: request.previousSystem,
      previousGeneration: request.previousGeneration,
      targetGeneration: request.targetGeneration,
      confirmTimeoutSec: request.confirmTimeoutSec,
      activationTimeoutSec: ACTIVATION_TIMEOUT_SEC,
      installBootloader: request.installBootloader,
      compareSystems: request.compareSystems,
    },
    request.nonce,
    async (output) => {
      const report = await checkHealth(engine, host, { output });
      details.resourcesAfter = report.resources;
      healthLogs = report.logs;
      return judgeHealth(report);
    },
    hooks,
  );
  details.activationLog = outcome.activationLog;
  const { supervisor, changes } = outcome;

  // The supervisor's last report says where the host ended; ask again only when it could not.
  const after =
    outcome.currentSystem && outcome.generation !== undefined
      ? { currentSystem: outcome.currentSystem, generation: outcome.generation }
      : await hostStatus(engine, host).then((status) => ({
          currentSystem: status.currentSystem,
          generation: status.generations.find((g) => g.current)?.number,
        }));
  const generationAfter = after.generation;
  if (outcome.status === "confirmed") {
    const expected = request.goal === "boot" ? request.previousSystem : request.newSystem;
    if (after.currentSystem !== expected) {
      return {
        outcome: "failed",
        generationAfter,
        supervisor,
        changes,
        extra: {
          error: `after activation /run/current-system is ${after.currentSystem ?? "unknown"}, not ${expected}`,
        },
      };
    }
    return { outcome: "confirmed", generationAfter, supervisor, changes, extra: {} };
  }
  if (outcome.status === "rolled-back") {
    const failedUnits = failedUnitsOf(outcome.activationLog);
    const logs = Object.keys(healthLogs).length
      ? healthLogs
      : failedUnits.length
        ? await unitLogs(engine, host, failedUnits)
        : {};
    const back =
      after.currentSystem === request.previousSystem
        ? `; back on generation ${generationAfter ?? "?"}`
        : `; but /run/current-system is ${after.currentSystem ?? "unknown"}`;
    const lost = outcome.connectionLost ? "connection lost after activation; " : "";
    const units = failedUnits.length ? ` (failed units: ${failedUnits.join(", ")})` : "";
    return {
      outcome: "rolled-back",
      generationAfter,
      supervisor,
      changes,
      extra: {
        error: `${lost}rolled back: ${outcome.rollbackReason ?? "unknown reason"}${units}${back}`,
        connectionLost: outcome.connectionLost || undefined,
        logs: capLogs(logs),
      },
    };
  }
  return {
    outcome: "failed",
    generationAfter,
    supervisor,
    changes,
    extra: {
      error: `${outcome.rollbackReason ?? "the host did not report an outcome in time"}${outcome.connectionLost ? " (connection lost; the host reverts by itself if nobody confirms)" : ""}`,
      connectionLost: outcome.connectionLost || undefined,
    },
  };
}

/** Units named in switch-to-configuration's `the following units failed: a b`. */
function failedUnitsOf(activationLog: string[]): string[] {
  const units = new Set<string>();
  for (const line of activationLog) {
    const match = /the following units failed: (.+)$/.exec(line);
    if (match) for (const unit of (match[1] as string).split(/[\s,]+/)) if (unit) units.add(unit);
  }
  return [...units];
}

function capLogs(logs: Record<string, string[]>): Record<string, string[]> | undefined {
  const entries = Object.entries(logs);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.slice(0, 3).map(([unit, lines]) => [unit, lines.slice(-10)]));
}
