import { randomBytes } from "node:crypto";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { connectionFailureReason } from "../remote/ssh.js";

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
  /**
   * Install (or reinstall) the boot loader, as `nixos-rebuild --install-bootloader`: the activation
   * runs with NIXOS_INSTALL_BOOTLOADER=1. Only for the switch and boot goals.
   */
  installBootloader?: boolean;
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

/**
 * The supervisor. It records its pid (so that a later deployer can tell a live supervisor from a
 * dead one), sets the profile, activates, and then keeps the confirmation window by the clock:
 * a deadline in hundredths of a second from /proc/uptime (monotonic, and read without starting a
 * process), checked on every wake-up. It sleeps on the FIFO `wake`, which the confirmation, the
 * rollback request and one timer write to, so it answers a request at once, costs no process per
 * check, and under load can only wake late, never early: the host keeps the new system for the
 * whole window and reverts right after it.
 *
 * Exported for the test that shows what it needs from its environment.
 */
export const WATCHDOG_SCRIPT = `
profile=$1 new=$2 goal=$3 nonce=$4 timeout=$5 previous=$6 previous_generation=$7 activation_timeout=$8 target_generation=$9
dir=/run/nix-deploy/$nonce
put() { printf '%s\\n' "$2" > "$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1"; }
echo "$$" > "$dir/supervisor.pid"
exec 3<> "$dir/wake"
timer=
finish() {
  [ -z "$timer" ] || kill "$timer" 2> /dev/null
  put result "$1"
  exit 0
}
rollback() {
  put rollback-reason "$1"
  if [ "$goal" != test ]; then
    if [ -n "$previous_generation" ]; then nix-env -p "$profile" --switch-generation "$previous_generation"
    else nix-env -p "$profile" --set "$previous"; fi
  fi
  case "$goal" in boot) again=boot ;; test) again=test ;; *) again=switch ;; esac
  "$previous/bin/switch-to-configuration" "$again" > "$dir/rollback.log" 2>&1
  put rollback-status "$?"
  finish rolled-back
}
if [ "$goal" != test ]; then
  if [ -n "$target_generation" ]; then nix-env -p "$profile" --switch-generation "$target_generation"
  else nix-env -p "$profile" --set "$new"; fi > "$dir/activation.log" 2>&1
  status=$?
  if [ "$status" -ne 0 ]; then
    # nix-env changes the profile atomically or not at all: nothing to revert.
    put activation-status "$status"
    put rollback-reason "could not set the system profile $profile (nix-env exited with status $status)"
    finish rolled-back
  fi
fi
if command -v timeout > /dev/null; then
  timeout "$activation_timeout" "$new/bin/switch-to-configuration" "$goal" >> "$dir/activation.log" 2>&1
else
  "$new/bin/switch-to-configuration" "$goal" >> "$dir/activation.log" 2>&1
fi
status=$?
put activation-status "$status"
[ "$status" -eq 0 ] || rollback "activation exited with status $status"
now() { read -r up _ < /proc/uptime; now=$((\${up%.*} * 100 + 1\${up#*.} - 100)); }
now
deadline=$((now + timeout * 100))
while :; do
  if [ -f "$dir/confirm" ] && [ "$(cat "$dir/confirm")" = "$nonce" ]; then finish confirmed; fi
  if [ -f "$dir/rollback-request" ]; then rollback "$(cat "$dir/rollback-request")"; fi
  now
  [ "$now" -lt "$deadline" ] || rollback "no confirmation within \${timeout}s"
  if [ -z "$timer" ]; then
    # One timer for the rest of the window. Killed when the supervisor decides early, its sleep
    # outlives it by at most the window (a unit's end stops it at once).
    left=$((deadline - now))
    { sleep "$((left / 100)).$((left / 10 % 10))$((left % 10))"; echo timer; } >&3 &
    timer=$!
  fi
  read -r woke <&3
  [ "$woke" != timer ] || timer=
done
`;

/**
 * `runs DIR FILE`: the process whose pid DIR/FILE holds runs and belongs to that activation: its
 * command line names the nonce, which is DIR's name (a pid alone may have been reused).
 */
const RUNS_FUNCTION = `
runs() {
  [ -s "$1/$2" ] && tr '\\0' '\\n' < "/proc/$(cat "$1/$2")/cmdline" 2> /dev/null | grep -qxF "\${1##*/}"
}
`;

/**
 * Shell functions every deployer-side script shares: where the supervisor's files are, whether the
 * supervisor still runs, how to wake it, how to wait for one of its files without a round trip per
 * check, and the state report the deployer parses.
 */
const SUPERVISOR_FUNCTIONS = `
dir=/run/nix-deploy/$nonce
${RUNS_FUNCTION}# Wakes the supervisor after a request. Opened read-write, a FIFO never blocks, also when nobody
# reads it any more.
wake() { [ -p "$dir/wake" ] && echo request 1<> "$dir/wake"; }
report() {
  # Whether the supervisor runs is read before its files: one seen gone has written all it will.
  if [ ! -s "$dir/supervisor.pid" ]; then echo supervisor-process=unknown
  elif runs "$dir" supervisor.pid; then echo supervisor-process=running
  else echo supervisor-process=gone; fi
  for f in activation-status result rollback-reason; do
    [ -f "$dir/$f" ] && printf '%s=%s\\n' "$f" "$(head -c 1000 "$dir/$f" | tr '\\n' ' ')"
  done
  echo "current=$(readlink /run/current-system)"
  echo "profile=$(readlink "$profile")"
}
wait_for() {
  i=0
  while [ ! -f "$dir/$1" ] && [ "$i" -lt $(($2 * 20)) ]; do
    sleep 0.05
    i=$((i + 1))
    # Once a second: a supervisor that is gone will write nothing more.
    if [ $((i % 20)) -eq 0 ] && [ -s "$dir/supervisor.pid" ] && ! runs "$dir" supervisor.pid; then break; fi
  done
}
`;

/**
 * Starts the supervisor detached and waits on the host for the activation's exit status, so that a
 * healthy activation costs one round trip, not a poll loop. A launch that fails before the
 * supervisor runs marks its directory as not started, so that no later deployer waits on it.
 *
 * Under systemd-run the supervisor is a transient unit, which does not inherit this session's
 * environment but gets the service manager's (whose PATH on NixOS holds neither Nix nor coreutils):
 * what the supervisor and switch-to-configuration need is passed explicitly, as nixos-rebuild does.
 */
const LAUNCH_SCRIPT = `
set -e
watchdog=$1 install_bootloader=$2; shift 2
profile=$1 nonce=$4 activation_timeout=$8
${SUPERVISOR_FUNCTIONS}
mkdir -p /run/nix-deploy
chmod 0700 /run/nix-deploy
mkdir -m 0700 "$dir"
echo "$$" > "$dir/launcher.pid"
started=
trap '[ -n "$started" ] || echo not-started > "$dir/result"' EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
mkfifo -m 0600 "$dir/wake"
if [ -n "$install_bootloader" ]; then export NIXOS_INSTALL_BOOTLOADER=1; else unset NIXOS_INSTALL_BOOTLOADER; fi
if [ -d /run/systemd/system ] && command -v systemd-run > /dev/null; then
  systemd-run --unit="nix-deploy-$nonce" --collect --no-ask-password --quiet --service-type=exec \\
    --setenv=PATH="$PATH" \\
    \${LOCALE_ARCHIVE:+"--setenv=LOCALE_ARCHIVE=$LOCALE_ARCHIVE"} \\
    \${NIXOS_INSTALL_BOOTLOADER:+--setenv=NIXOS_INSTALL_BOOTLOADER=1} \\
    -- sh -c "$watchdog" nix-deploy-watchdog "$@"
  echo supervisor=systemd-run
else
  setsid sh -c "$watchdog" nix-deploy-watchdog "$@" < /dev/null > "$dir/supervisor.log" 2>&1 &
  echo "$!" > "$dir/supervisor.pid"
  echo supervisor=setsid
fi
started=1
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
wake
wait_for result 10
report
`;

const REQUEST_ROLLBACK_SCRIPT = `
nonce=$1 profile=$2
${SUPERVISOR_FUNCTIONS}
printf '%s' "$3" > "$dir/rollback-request"
wake
wait_for result 120
report
`;

/**
 * Lists the activations on the host that are undecided, and removes stale directories: one without
 * a result whose launcher and supervisor are both gone will never get one (a launch killed before it
 * could record its failure, a supervisor that died). A directory without even a launcher's pid (made
 * a moment ago, the pid not written yet) is given a minute. Decided ones are kept a day, for whoever
 * wants to read what happened. A directory whose supervisor runs is never removed.
 */
const PENDING_SCRIPT = `
${RUNS_FUNCTION}
cd /run/nix-deploy 2> /dev/null || exit 0
for d in *; do
  [ -d "$d" ] || continue
  if runs "$d" supervisor.pid; then
    [ -f "$d/result" ] || echo "pending=$d"
  elif [ -f "$d/result" ]; then
    [ -z "$(find "$d" -maxdepth 0 -mmin +1440)" ] || rm -rf "$d"
  elif runs "$d" launcher.pid || { [ ! -f "$d/launcher.pid" ] && [ -z "$(find "$d" -maxdepth 0 -mmin +1)" ]; }; then
    echo "pending=$d"
  else
    rm -rf "$d" && echo "pruned=$d"
  fi
done
exit 0
`;

const LOG_TAIL_SCRIPT = `tail -n "$2" "/run/nix-deploy/$1/activation.log" 2>/dev/null; exit 0`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (bounded) until no activation on the host is undecided, so that a deployment neither races an
 * earlier one's supervisor (a killed deployer's, or another machine's) nor takes the system it is
 * about to revert as its rollback point. Says what it waited for and which stale directories it
 * removed, in notes for the deployment's result.
 */
export async function settleEarlierActivations(
  engine: Engine,
  host: Host,
  boundSec: number,
  signal?: AbortSignal,
): Promise<{ waited: boolean; notes: string[] }> {
  const deadline = Date.now() + boundSec * 1000;
  const pruned: string[] = [];
  let waitedFor: string | undefined;
  while (true) {
    const result = await engine.connect(host).run(["sh", "-c", PENDING_SCRIPT, "nix-deploy-pending"], {
      timeoutMs: 15_000,
      root: true,
      signal,
    });
    const lines = result.exitCode === 0 ? result.stdout.split("\n") : [];
    const valuesOf = (key: string) =>
      lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1).trim());
    pruned.push(...valuesOf("pruned"));
    const pending = valuesOf("pending");
    if (pending.length === 0 || signal?.aborted) {
      const notes = waitedFor
        ? [`waited for an earlier activation on the host to finish (${waitedFor})`]
        : [];
      if (pruned.length)
        notes.push(
          `removed the state of activations whose supervisor had gone without a verdict (${pruned.join(", ")})`,
        );
      return { waited: waitedFor !== undefined, notes };
    }
    waitedFor = pending.join(", ");
    if (Date.now() > deadline) {
      throw new UserError(
        `${host.name} has an activation that never finished (${waitedFor})`,
        "look at /run/nix-deploy on the host; remove the directory once you know the host's state",
      );
    }
    await sleep(500);
  }
}

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
  /** Whether the supervisor's process still runs; unknown before it wrote its pid. */
  supervisorProcess?: "running" | "gone" | "unknown";
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
    if (key === "supervisor-process" && (value === "running" || value === "gone" || value === "unknown"))
      state.supervisorProcess = value;
  }
  return state;
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
  health: () => Promise<HealthVerdict>,
  options: { signal?: AbortSignal; onStep?: (step: string) => void } = {},
): Promise<ActivationOutcome> {
  const { host } = request;
  const outcome: ActivationOutcome = { status: "unknown", nonce, activationLog: [], connectionLost: false };
  const connection = engine.connect(host);
  const launch = await connection.run(
    [
      "sh",
      "-c",
      LAUNCH_SCRIPT,
      "nix-deploy-launch",
      WATCHDOG_SCRIPT,
      request.installBootloader ? "1" : "",
      host.profile,
      request.newSystem,
      request.goal,
      nonce,
      String(request.confirmTimeoutSec),
      request.previousSystem,
      request.previousGeneration === undefined ? "" : String(request.previousGeneration),
      String(request.activationTimeoutSec),
      request.targetGeneration === undefined ? "" : String(request.targetGeneration),
    ],
    { timeoutMs: (request.activationTimeoutSec + 30) * 1000, signal: options.signal, root: true },
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
    const result = await connection.run(["sh", "-c", script, name, ...scriptArgs, ...extra], {
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
    return parseState(result.stdout);
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
      outcome.rollbackReason = `the supervisor on the host stopped without a verdict (its files are in /run/nix-deploy/${nonce})`;
      break;
    }
    let next: SupervisorState | undefined;
    if (state.activationStatus === 0 && !verdict) {
      options.onStep?.("checking health");
      verdict = await health();
      if (verdict.ok) {
        // A new login, not the multiplexed one: if it fails, the host reverts by itself. This
        // machine has no login to prove: the health check passing is the confirmation.
        next = await call(CONFIRM_SCRIPT, "nix-deploy-confirm", [], false);
        options.onStep?.(
          !next
            ? "could not confirm; the host will revert by itself"
            : connection.local
              ? "confirmed: the health check passed (this machine, no login to prove)"
              : "confirmed over a new connection",
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
    const tail = await connection.run(["sh", "-c", LOG_TAIL_SCRIPT, "nix-deploy-log", nonce, "30"], {
      timeoutMs: 15_000,
      root: true,
    });
    if (!tail.connectionFailed)
      outcome.activationLog = tail.stdout.split("\n").filter((l) => l.trim() !== "");
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
