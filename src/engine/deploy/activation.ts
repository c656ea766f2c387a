import { randomBytes } from "node:crypto";
import type { Engine } from "../engine.js";
import type { Host } from "../fleet/hosts.js";
import { connectionFailureReason } from "../remote/ssh.js";

/**
 * Activation with magic rollback, run by a supervisor on the host itself so that it does not depend
 * on the deployer's connection (a dropped ssh session must neither kill the activation, nor leave the
 * host on a system nobody confirmed):
 *
 *   1. the profile is set and switch-to-configuration runs under a `systemd-run` unit with a unique
 *      name where systemd runs, under `setsid` otherwise;
 *   2. a failed activation reverts at once (no waiting for a timeout);
 *   3. a successful one waits for a confirmation: the deployment's fresh nonce, written over a *new*
 *      ssh connection (not multiplexed), which proves that a new login still works;
 *   4. no confirmation within the timeout, or a rollback request from the deployer (failed health
 *      check), reverts the profile to the previous generation and activates the previous system.
 *
 * Every state the supervisor reaches is a file in /run/nix-deploy/NONCE, read by the deployer.
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

const WATCHDOG_SCRIPT = `
profile=$1 new=$2 goal=$3 nonce=$4 timeout=$5 previous=$6 previous_generation=$7 activation_timeout=$8
dir=/run/nix-deploy/$nonce
put() { printf '%s\\n' "$2" > "$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1"; }
rollback() {
  put rollback-reason "$1"
  if [ "$goal" != test ]; then
    if [ -n "$previous_generation" ]; then nix-env -p "$profile" --switch-generation "$previous_generation"
    else nix-env -p "$profile" --set "$previous"; fi
  fi
  case "$goal" in boot) again=boot ;; test) again=test ;; *) again=switch ;; esac
  "$previous/bin/switch-to-configuration" "$again" > "$dir/rollback.log" 2>&1
  put rollback-status "$?"
  put result rolled-back
  exit 0
}
if command -v timeout > /dev/null; then
  timeout "$activation_timeout" "$new/bin/switch-to-configuration" "$goal" > "$dir/activation.log" 2>&1
else
  "$new/bin/switch-to-configuration" "$goal" > "$dir/activation.log" 2>&1
fi
status=$?
put activation-status "$status"
[ "$status" -eq 0 ] || rollback "activation exited with status $status"
ticks=0
while [ "$ticks" -lt $((timeout * 5)) ]; do
  if [ -f "$dir/confirm" ] && [ "$(cat "$dir/confirm")" = "$nonce" ]; then put result confirmed; exit 0; fi
  if [ -f "$dir/rollback-request" ]; then rollback "$(cat "$dir/rollback-request")"; fi
  sleep 0.1
  ticks=$((ticks + 1))
done
rollback "no confirmation within \${timeout}s"
`;

/**
 * Shell functions every deployer-side script shares: where the supervisor's files are, how to
 * wait for one of them without a round trip per check, and the state report the deployer parses.
 */
const SUPERVISOR_FUNCTIONS = `
dir=/run/nix-deploy/$nonce
report() {
  for f in activation-status result rollback-reason; do
    [ -f "$dir/$f" ] && printf '%s=%s\\n' "$f" "$(head -c 1000 "$dir/$f" | tr '\\n' ' ')"
  done
  echo "current=$(readlink /run/current-system)"
  echo "profile=$(readlink "$profile")"
}
wait_for() {
  i=0
  while [ ! -f "$dir/$1" ] && [ "$i" -lt $(($2 * 20)) ]; do sleep 0.05; i=$((i + 1)); done
}
`;

/**
 * Sets the profile (for switch and boot), starts the supervisor detached, and waits on the host for
 * the activation's exit status, so that a healthy activation costs one round trip, not a poll loop.
 */
const LAUNCH_SCRIPT = `
set -e
watchdog=$1 target_generation=$2; shift 2
profile=$1 new=$2 goal=$3 nonce=$4 activation_timeout=$8
${SUPERVISOR_FUNCTIONS}
mkdir -p "$dir"
chmod 0700 /run/nix-deploy "$dir"
if [ "$goal" != test ]; then
  if [ -n "$target_generation" ]; then nix-env -p "$profile" --switch-generation "$target_generation"
  else nix-env -p "$profile" --set "$new"; fi
fi
if [ -d /run/systemd/system ] && command -v systemd-run > /dev/null; then
  systemd-run --unit "nix-deploy-$nonce" --collect --no-ask-password --quiet --service-type=exec -- sh -c "$watchdog" nix-deploy-watchdog "$@"
  echo supervisor=systemd-run
else
  setsid sh -c "$watchdog" nix-deploy-watchdog "$@" < /dev/null > "$dir/supervisor.log" 2>&1 &
  echo supervisor=setsid
fi
set +e
wait_for activation-status "$activation_timeout"
report
`;

const STATUS_SCRIPT = `
nonce=$1 profile=$2
${SUPERVISOR_FUNCTIONS}
report
`;

/** Writes the nonce as the confirmation, then waits for the supervisor's verdict. */
const CONFIRM_SCRIPT = `
nonce=$1 profile=$2
${SUPERVISOR_FUNCTIONS}
[ -d "$dir" ] || exit 3
printf '%s' "$nonce" > "$dir/confirm"
wait_for result 10
report
`;

const REQUEST_ROLLBACK_SCRIPT = `
nonce=$1 profile=$2
${SUPERVISOR_FUNCTIONS}
printf '%s' "$3" > "$dir/rollback-request"
wait_for result 120
report
`;

const LOG_TAIL_SCRIPT = `tail -n "$2" "/run/nix-deploy/$1/activation.log" 2>/dev/null; exit 0`;

export function newNonce(deploymentId: string, host: string): string {
  return `${deploymentId}-${host}-${randomBytes(6).toString("hex")}`.replace(/[^A-Za-z0-9_.-]/g, "-");
}

interface SupervisorState {
  activationStatus?: number;
  result?: "confirmed" | "rolled-back";
  rollbackReason?: string;
  current?: string;
  /** The generation the profile points at: `system-12-link` is 12. */
  generation?: number;
  supervisor?: "systemd-run" | "setsid";
}

function parseState(stdout: string): SupervisorState {
  const state: SupervisorState = {};
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === "activation-status" && value !== "") state.activationStatus = Number(value);
    if (key === "result" && (value === "confirmed" || value === "rolled-back")) state.result = value;
    if (key === "rollback-reason") state.rollbackReason = value;
    if (key === "current") state.current = value || undefined;
    if (key === "profile") {
      const generation = /-(\d+)-link$/.exec(value)?.[1];
      if (generation) state.generation = Number(generation);
    }
    if (key === "supervisor" && (value === "systemd-run" || value === "setsid")) state.supervisor = value;
  }
  return state;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Activates `newSystem` on the host under the supervisor, runs the health check, confirms or asks
 * for the rollback, and follows the host through a lost connection until the outcome is known or the
 * bound passes.
 */
export async function activateWithMagicRollback(
  engine: Engine,
  request: ActivationRequest,
  nonce: string,
  health: () => Promise<HealthVerdict>,
  options: { signal?: AbortSignal; onStep?: (step: string) => void } = {},
): Promise<ActivationOutcome> {
  const { host } = request;
  const outcome: ActivationOutcome = { status: "unknown", nonce, activationLog: [], connectionLost: false };
  const launch = await engine.remote.run(
    host.ssh,
    [
      "sh",
      "-c",
      LAUNCH_SCRIPT,
      "nix-deploy-launch",
      WATCHDOG_SCRIPT,
      request.targetGeneration === undefined ? "" : String(request.targetGeneration),
      host.profile,
      request.newSystem,
      request.goal,
      nonce,
      String(request.confirmTimeoutSec),
      request.previousSystem,
      request.previousGeneration === undefined ? "" : String(request.previousGeneration),
      String(request.activationTimeoutSec),
    ],
    { timeoutMs: (request.activationTimeoutSec + 30) * 1000, signal: options.signal },
  );
  let state = parseState(launch.stdout);
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
  const call = async (script: string, name: string, extra: string[] = [], multiplex = true) => {
    // An interrupted deployer stops watching and never confirms: the host reverts by itself. A
    // cancelled call's empty output is no state of the host, so it must not count as an answer.
    if (options.signal?.aborted) return undefined;
    const result = await engine.remote.run(host.ssh, ["sh", "-c", script, name, ...scriptArgs, ...extra], {
      timeoutMs: 150_000,
      multiplex,
      signal: options.signal,
    });
    if (options.signal?.aborted) return undefined;
    if (result.connectionFailed) {
      outcome.connectionLost = true;
      return undefined;
    }
    return parseState(result.stdout);
  };
  const deadline = Date.now() + (request.activationTimeoutSec + request.confirmTimeoutSec) * 1000 + 30_000;
  let healthChecked = false;
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
      outcome.rollbackReason = state.rollbackReason;
      break;
    }
    let next: SupervisorState | undefined;
    if (state.activationStatus === 0 && !healthChecked) {
      healthChecked = true;
      options.onStep?.("checking health");
      const verdict = await health();
      if (verdict.ok) {
        // A new login, not the multiplexed one: if it fails, the host reverts by itself.
        next = await call(CONFIRM_SCRIPT, "nix-deploy-confirm", [], false);
        options.onStep?.(
          next ? "confirmed over a new connection" : "could not confirm; the host will revert by itself",
        );
      } else {
        options.onStep?.(`rolling back: ${verdict.reason}`);
        next = await call(REQUEST_ROLLBACK_SCRIPT, "nix-deploy-rollback", [verdict.reason]);
      }
    } else {
      await sleep(250);
      next = await call(STATUS_SCRIPT, "nix-deploy-status");
    }
    if (next) state = next;
    else await sleep(250);
  }
  if (outcome.status !== "confirmed") {
    const tail = await engine.remote.run(
      host.ssh,
      ["sh", "-c", LOG_TAIL_SCRIPT, "nix-deploy-log", nonce, "30"],
      { timeoutMs: 15_000 },
    );
    if (!tail.connectionFailed)
      outcome.activationLog = tail.stdout.split("\n").filter((l) => l.trim() !== "");
  }
  return outcome;
}
