/**
 * What the deployment does to a host besides activating it: wait for an earlier activation and read
 * the host's state (the probe), compare the old and new systems, dry-activate. (The copy is ./copy.ts.)
 */
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { splitSections } from "../fleet/status.js";
import { parseState } from "../host/protocol.js";
import { hostCommand } from "../host/scripts.js";
import { connectionFailureReason } from "../remote/ssh.js";
import { type ActivationSession, earlierActivationBoundSec, settleEarlierActivations } from "./activation.js";
import { type PackageChange, parseChanges, type UnitChange } from "./changes.js";
import { parseResources, type ResourceFigures } from "./health.js";

/** Comparing two closures on the host: `nix store diff-closures` and the units, both local there. */
const CHANGES_TIMEOUT_MS = 120_000;
/** `switch-to-configuration dry-activate`, which may evaluate the activation script's every step. */
const DRY_ACTIVATE_TIMEOUT_MS = 300_000;

/** Package versions and units that change, computed on the host, which holds both closures. */
export async function detectChanges(
  engine: Engine,
  host: Host,
  oldSystem: string,
  newSystem: string,
): Promise<{ packages: PackageChange[]; units: UnitChange[] }> {
  const result = await engine
    .connect(host)
    .run(hostCommand("changes", "nix-deploy-changes", [oldSystem, newSystem]), {
      timeoutMs: CHANGES_TIMEOUT_MS,
    });
  if (result.exitCode !== 0)
    throw new UserError(`could not compare systems on ${host.name}: ${result.stderr.trim()}`);
  return parseChanges(result.stdout);
}

export async function dryActivate(engine: Engine, host: Host, newSystem: string): Promise<string[]> {
  const result = await engine
    .connect(host)
    .run([`${newSystem}/bin/switch-to-configuration`, "dry-activate"], {
      timeoutMs: DRY_ACTIVATE_TIMEOUT_MS,
      root: true,
    });
  if (result.exitCode !== 0)
    throw new UserError(`dry activation on ${host.name} failed:\n${result.stderr.trim()}`);
  return `${result.stdout}${result.stderr}`.split("\n").filter((l) => l.trim() !== "");
}

/** The host before the deployment changes it: the rollback point and the resource baseline. */
export interface HostBefore {
  currentSystem: string;
  /** The generation the system profile points at. */
  generation?: number;
  resources: ResourceFigures;
}

/**
 * The host's state before the deployment changes it: its running system (the rollback point), its
 * generation and resources. An activation still waiting for its confirmation (a killed deployer's,
 * or another machine's) decides the host's system soon, so it is waited for rather than raced; the
 * answer that finds none undecided carries the state, so the probe is one round trip.
 */
export async function probeBeforeDeploy(
  engine: Engine,
  host: Host,
  confirmTimeoutSec: number,
  signal?: AbortSignal,
  /** The activation's session, whose first answer is the probe's (openActivationSession). */
  session?: ActivationSession,
): Promise<{ before: HostBefore; notes: string[] }> {
  const earlier = await settleEarlierActivations(
    engine,
    host,
    earlierActivationBoundSec(confirmTimeoutSec),
    signal,
    host.profile,
    await session?.probe,
  );
  const { last } = earlier;
  if (last.connectionFailed)
    throw new UserError(
      `${host.name} does not answer over ssh: ${connectionFailureReason(last)}`,
      `check that ${host.ssh.destination} is up and reachable`,
    );
  if (last.exitCode !== 0)
    throw new UserError(
      `could not read the state of ${host.name}: ${last.stderr.trim() || `exit ${last.exitCode}`}`,
    );
  const state = parseState(last.stdout);
  if (!state.current) throw new UserError(`${host.name} has no /run/current-system`, "is it a NixOS host?");
  return {
    before: {
      currentSystem: state.current,
      generation: state.generation,
      resources: parseResources(splitSections(last.stdout)),
    },
    notes: earlier.notes,
  };
}
