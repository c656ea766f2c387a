import { randomBytes } from "node:crypto";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import {
  activationCommand,
  activationDir,
  parseLogTail,
  parsePending,
  RUN_DIR,
  type SupervisorState,
  splitActivationAnswer,
} from "../host/protocol.js";
import { hostScript } from "../host/scripts.js";
import { connectionFailureReason, type RemoteResult } from "../remote/ssh.js";

/**
 * Activation with magic rollback, run by a supervisor on the host itself so that it does not depend
 * on the deployer's connection (a dropped ssh session must neither kill the activation, nor leave the
 * host on a system nobody confirmed):
 *
 *   1. the supervisor runs as a `systemd-run` unit with a unique name where systemd runs, under
 *      `setsid` otherwise; it sets the profile and runs switch-to-configuration;
 *   2. a failed activation reverts at once (no waiting for a timeout);
 *   3. a successful one waits for a confirmation: the deployment's fresh nonce, written over a *new*
 *      ssh connection (not multiplexed), which proves that a new login still works;
 *   4. no confirmation within the timeout, or a rollback request from the deployer (failed health
 *      check), reverts the profile to the previous generation and activates the previous system.
 *
 * Every state the supervisor reaches is a file in /run/nix-deploy/NONCE, read by the deployer. The
 * scripts are src/engine/host/scripts/activation.sh (the deployer's side) and watchdog.sh (the
 * supervisor); src/engine/host/protocol.ts names their files and reads their output.
 */

export type ActivationGoal = "switch" | "boot" | "test";

export interface ActivationRequest {
  host: Host;
  newSystem: string;
  goal: ActivationGoal;
  /** The rollback point: the system and generation the host ran before. */
  previousSystem: string;
  previousGeneration?: number;
  /** Switch the profile to this existing generation instead of adding a new one (rollback). */
  targetGeneration?: number;
  confirmTimeoutSec: number;
  /** Bound on switch-to-configuration itself. */
  activationTimeoutSec: number;
  /**
   * Install (or reinstall) the boot loader, as `nixos-rebuild --install-bootloader`: the activation
   * runs with NIXOS_INSTALL_BOOTLOADER=1. Only for the switch and boot goals.
   */
  installBootloader?: boolean;
  /**
   * Compare previousSystem and newSystem on the host while it activates (changes.sh): the launch's
   * answer brings the comparison along when it has finished by then (ActivationOutcome.changes).
   */
  compareSystems?: boolean;
}

export interface ActivationOutcome {
  status: "confirmed" | "rolled-back" | "unknown";
  nonce: string;
  activationExitCode?: number;
  /** Last lines switch-to-configuration printed. */
  activationLog: string[];
  rollbackReason?: string;
  /** The deployer lost the host at some point after launching the supervisor. */
  connectionLost: boolean;
  /** `readlink /run/current-system` at the end, compared by the caller with what it expects. */
  currentSystem?: string;
  /** The generation the system profile points at, at the end. */
  generation?: number;
  /** Whether the supervisor ran under systemd-run (else setsid). */
  supervisor?: "systemd-run" | "setsid";
  /** What changes.sh printed, when compareSystems was asked and it finished within the launch. */
  changes?: string;
}

/** The health verdict the deployer reaches after activation; a failure triggers the rollback. */
export type HealthVerdict = { ok: true } | { ok: false; reason: string };

/** Bound on switch-to-configuration itself, so that a hung activation cannot hold the host forever. */
export const ACTIVATION_TIMEOUT_SEC = 600;

/** The confirmation window when none is asked for: time for the health check and a new login. */
export const DEFAULT_CONFIRM_TIMEOUT_SEC = 30;

/**
 * How long a deployer waits for an earlier activation still undecided on the host (a killed
 * deployer's, or another machine's): its activation, its window, and a minute for its revert.
 */
export function earlierActivationBoundSec(confirmTimeoutSec: number): number {
  return ACTIVATION_TIMEOUT_SEC + confirmTimeoutSec + 60;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (bounded) until no activation on the host is undecided, so that a deployment neither races an
 * earlier one's supervisor (a killed deployer's, or another machine's) nor takes the system it is
 * about to revert as its rollback point. Says what it waited for and which stale directories it
 * removed, in notes for the deployment's result. Given the host's profile, the last answer also holds
 * the host's state once settled (its system, generation and resources: see activation.sh pending).
 */
export async function settleEarlierActivations(
  engine: Engine,
  host: Host,
  boundSec: number,
  signal?: AbortSignal,
  profile?: string,
  /** The first answer, when an activation session already asked (openActivationSession). */
  first?: RemoteResult,
): Promise<{ waited: boolean; notes: string[]; last: RemoteResult }> {
  const deadline = Date.now() + boundSec * 1000;
  const pruned: string[] = [];
  let waitedFor: string | undefined;
  let answer = first;
  while (true) {
    const result =
      answer ??
      (await engine
        .connect(host)
        .run(activationCommand("pending", profile === undefined ? [] : [profile, hostScript("health")]), {
          timeoutMs: PROBE_TIMEOUT_MS,
          root: true,
          signal,
        }));
    answer = undefined;
    const listed = parsePending(result.exitCode === 0 ? result.stdout : "");
    pruned.push(...listed.pruned);
    const { pending } = listed;
    if (pending.length === 0 || signal?.aborted) {
      const notes = waitedFor
        ? [`waited for an earlier activation on the host to finish (${waitedFor})`]
        : [];
      if (pruned.length)
        notes.push(
          `removed the state of activations whose supervisor had gone without a verdict (${pruned.join(", ")})`,
        );
      return { waited: waitedFor !== undefined, notes, last: result };
    }
    waitedFor = pending.join(", ");
    if (Date.now() > deadline) {
      throw new UserError(
        `${host.name} has an activation that never finished (${waitedFor})`,
        `look at ${RUN_DIR} on the host; remove the directory once you know the host's state`,
      );
    }
    await sleep(500);
  }
}

/** Bound on one probe of the host (its state and resources; the earlier activations it lists). */
const PROBE_TIMEOUT_MS = 15_000;

/** What activation.sh session prints between the probe's answer and the launch's. */
const SESSION_READY = "@@ready";

/**
 * The probe and the launch of one host's activation in one session on the host: the probe's answer
 * now; the launch later, once the new system is on the host, through the session's stdin. It saves
 * the host a session and a shell start, and the deployer an ssh client, per deployment.
 */
export interface ActivationSession {
  /** The probe's answer: what `activation.sh pending PROFILE HEALTH` prints. */
  readonly probe: Promise<RemoteResult>;
  /**
   * Launches the activation in the session, and returns what launch printed. Undefined when the
   * session cannot: it ended (an earlier activation was pending, or the connection dropped before
   * anything was sent), or it was opened for another activation; the caller then launches with a
   * command of its own.
   */
  launch(request: ActivationRequest, nonce: string): Promise<RemoteResult | undefined>;
  /** Ends the session when nothing is to be launched (the host needs no activation, or failed). */
  close(): void;
}

/** The activation a session is opened for: everything but the systems, which come at launch. */
export type SessionRequest = Omit<ActivationRequest, "newSystem" | "previousSystem" | "previousGeneration">;

/** A store path or generation that travels in the session's one line: no blanks, nothing else. */
const LINE_WORD = /^[A-Za-z0-9+._/=-]+$/;

/** Opens the session and asks the probe (activation.sh session; see its header). */
export function openActivationSession(
  engine: Engine,
  request: SessionRequest,
  nonce: string,
  signal?: AbortSignal,
): ActivationSession {
  const opened = sessionArguments(request, nonce);
  const running = engine
    .connect(request.host)
    .start(activationCommand("session", opened), { root: true, signal });
  running.deadline(PROBE_TIMEOUT_MS);
  // Read by the probe or the launch; a session closed with nothing launched has no reader left.
  running.result.catch(() => {});
  const ready = running.untilLine(SESSION_READY);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    running.end();
  };
  return {
    probe: ready.then(async (answer) => {
      if (answer === undefined) return running.result;
      // Waiting for the build and the copy is not the probe's time.
      running.deadline(undefined);
      const probed: RemoteResult = {
        command: "activation.sh session",
        exitCode: 0,
        stdout: answer,
        stderr: "",
        timedOut: false,
        connectionFailed: false,
      };
      return probed;
    }),
    async launch(launched, launchNonce) {
      const answer = await ready;
      const words = [launched.newSystem, launched.previousSystem, String(launched.previousGeneration ?? "-")];
      const fits =
        answer !== undefined &&
        !closed &&
        !running.ended &&
        launchNonce === nonce &&
        launched.targetGeneration === undefined &&
        JSON.stringify(sessionArguments(launched, launchNonce)) === JSON.stringify(opened) &&
        words.every((word) => LINE_WORD.test(word));
      if (!fits) {
        close();
        return undefined;
      }
      closed = true;
      running.deadline((launched.activationTimeoutSec + 30) * 1000);
      running.write(`${nonce} ${words.join(" ")}\n`);
      running.end();
      const result = await running.result;
      return { ...result, stdout: result.stdout.slice(answer.length + SESSION_READY.length + 1) };
    },
    close,
  };
}

/** launch's arguments without the systems: what a session starts with (activation.sh session). */
function sessionArguments(request: SessionRequest, nonce: string): string[] {
  return launchArguments(
    { ...request, newSystem: "", previousSystem: "", previousGeneration: undefined },
    nonce,
  );
}

/** launch's arguments (activation.sh): the supervisor, the systems, and what comes back with it. */
function launchArguments(request: ActivationRequest, nonce: string): string[] {
  return [
    hostScript("watchdog"),
    request.installBootloader ? "1" : "",
    request.host.profile,
    request.newSystem,
    request.goal,
    nonce,
    String(request.confirmTimeoutSec),
    request.previousSystem,
    request.previousGeneration === undefined ? "" : String(request.previousGeneration),
    String(request.activationTimeoutSec),
    request.targetGeneration === undefined ? "" : String(request.targetGeneration),
    // What changes, compared beside the activation, and the health check right after a successful
    // activation: both in the same round trip.
    request.compareSystems ? hostScript("changes") : "",
    hostScript("health"),
    ...request.host.criticalServices,
  ];
}

export function newNonce(deploymentId: string, host: string): string {
  return `${deploymentId}-${host}-${randomBytes(6).toString("hex")}`.replace(/[^A-Za-z0-9_.-]/g, "-");
}

/**
 * Activates `newSystem` on the host under the supervisor, runs the health check, confirms or asks
 * for the rollback, and follows the host through a lost connection until the outcome is known or the
 * bound passes.
 */
export async function activateWithMagicRollback(
  engine: Engine,
  request: ActivationRequest,
  nonce: string,
  /** The health verdict; given health.sh's output when the launch brought it along. */
  health: (output?: string) => Promise<HealthVerdict>,
  options: { signal?: AbortSignal; onStep?: (step: string) => void; session?: ActivationSession } = {},
): Promise<ActivationOutcome> {
  const { host } = request;
  const outcome: ActivationOutcome = { status: "unknown", nonce, activationLog: [], connectionLost: false };
  const connection = engine.connect(host);
  const launch =
    (await options.session?.launch(request, nonce)) ??
    (await connection.run(activationCommand("launch", launchArguments(request, nonce)), {
      timeoutMs: (request.activationTimeoutSec + 30) * 1000,
      signal: options.signal,
      root: true,
    }));
  const { state: launched, health: launchHealth, changes } = splitActivationAnswer(launch.stdout);
  if (changes !== undefined) outcome.changes = changes;
  let state = launched;
  if (!state.supervisor) {
    // Nothing was activated: the launcher stops before the supervisor on any error.
    outcome.rollbackReason = launch.connectionFailed
      ? `could not start the activation: ${connectionFailureReason(launch)}`
      : `could not start the activation: ${launch.stderr.trim() || `exit ${launch.exitCode}`}`;
    return outcome;
  }
  outcome.supervisor = state.supervisor;
  if (launch.connectionFailed) outcome.connectionLost = true;
  options.onStep?.(`activating (${request.goal}) under ${outcome.supervisor}`);

  // Past this point the host decides by itself; the deployer only watches, confirms or asks to revert.
  const scriptArgs = [nonce, host.profile];
  const call = async (
    action: "status" | "confirm" | "request-rollback",
    extra: string[] = [],
    multiplex = true,
  ) => {
    // An interrupted deployer stops watching and never confirms: the host reverts by itself. A
    // cancelled call's empty output is no state of the host, so it must not count as an answer.
    if (options.signal?.aborted) return undefined;
    const result = await connection.run(activationCommand(action, [...scriptArgs, ...extra]), {
      timeoutMs: 150_000,
      root: true,
      multiplex,
      signal: options.signal,
    });
    if (options.signal?.aborted) return undefined;
    if (result.connectionFailed) {
      outcome.connectionLost = true;
      return undefined;
    }
    const answer = splitActivationAnswer(result.stdout);
    if (answer.changes !== undefined) outcome.changes = answer.changes;
    return answer.state;
  };
  const deadline = Date.now() + (request.activationTimeoutSec + request.confirmTimeoutSec) * 1000 + 30_000;
  let verdict: HealthVerdict | undefined;
  while (Date.now() < deadline) {
    if (options.signal?.aborted) {
      outcome.rollbackReason =
        "interrupted before the outcome was known; unless it was confirmed, the host reverts by itself";
      break;
    }
    outcome.currentSystem = state.current ?? outcome.currentSystem;
    outcome.generation = state.generation ?? outcome.generation;
    if (state.activationStatus !== undefined) outcome.activationExitCode = state.activationStatus;
    if (state.result === "rolled-back" || state.result === "confirmed") {
      outcome.status = state.result;
      outcome.rollbackReason = rollbackReasonOf(state.rollbackReason, verdict);
      break;
    }
    if (state.supervisorProcess === "gone") {
      outcome.rollbackReason = `the supervisor on the host stopped without a verdict (its files are in ${activationDir(nonce)})`;
      break;
    }
    let next: SupervisorState | undefined;
    if (state.activationStatus === 0 && !verdict) {
      options.onStep?.("checking health");
      verdict = await health(launchHealth);
      if (verdict.ok) {
        // A new login, not the multiplexed one: if it fails, the host reverts by itself. This
        // machine has no login to prove: the health check passing is the confirmation.
        // The comparison of the systems, when the launch's answer came without it, comes with
        // the confirmation: it waits for it once the verdict is in.
        const late = request.compareSystems && outcome.changes === undefined ? ["changes"] : [];
        next = await call("confirm", late, false);
        options.onStep?.(
          !next
            ? "could not confirm; the host will revert by itself"
            : connection.local
              ? "confirmed: the health check passed (this machine, no login to prove)"
              : "confirmed over a new connection",
        );
      } else {
        options.onStep?.(`rolling back: ${verdict.reason}`);
        next = await call("request-rollback", [verdict.reason]);
      }
    } else {
      await sleep(250);
      next = await call("status");
    }
    if (next) state = next;
    else await sleep(250);
  }
  if (outcome.status !== "confirmed") {
    const tail = await connection.run(activationCommand("log", [nonce, "30"]), {
      timeoutMs: 15_000,
      root: true,
    });
    if (!tail.connectionFailed) outcome.activationLog = parseLogTail(tail.stdout);
  }
  return outcome;
}

/**
 * Why the host went back. A failed health verdict is the reason whenever the deployer reached one,
 * also when the host's own timer fired before the deployer's request arrived (a slow check on a
 * loaded host): "no confirmation" alone would hide what was wrong.
 */
function rollbackReasonOf(hostReason: string | undefined, verdict: HealthVerdict | undefined) {
  if (!verdict || verdict.ok) return hostReason;
  // The host keeps the request as it came, its newlines as spaces, cut at 1000 bytes.
  const requested = verdict.reason.replace(/\s+/g, " ").trim();
  if (!hostReason || requested.startsWith(hostReason.trim())) return verdict.reason;
  return `${verdict.reason}; the host had already reverted by itself (${hostReason})`;
}
