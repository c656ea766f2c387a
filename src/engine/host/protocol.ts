import { hostCommand } from "./scripts.js";

/**
 * The protocol between the deployer and an activation on a host (scripts/activation.sh and
 * scripts/watchdog.sh): where its files are, what they are called, and how the deployer reads what
 * the scripts print. Nothing else in the engine knows these names.
 *
 * Each activation has a directory RUN_DIR/NONCE (0700, in a 0700 RUN_DIR on tmpfs: gone at reboot,
 * when no activation can be pending any more), which holds:
 */
export const RUN_DIR = "/run/nix-deploy";

/** Moves RUN_DIR for tests that run the scripts locally; never set on a host. */
export const RUN_DIR_VARIABLE = "NIX_DEPLOY_RUN_DIR";

export const ACTIVATION_FILES = {
  /** The launcher's pid, while it starts the supervisor and waits for the activation's status. */
  launcherPid: "launcher.pid",
  /** The supervisor's pid: its command line names the nonce, which tells it from a reused pid. */
  supervisorPid: "supervisor.pid",
  /** The systemd unit the supervisor runs as, when it runs under systemd-run. */
  unit: "unit",
  /** The FIFO the supervisor sleeps on; a confirmation, a rollback request or its timer wake it. */
  wake: "wake",
  /** The nonce, written by the deployer over a new connection: keep the new system. */
  confirm: "confirm",
  /** A reason, written by the deployer (a failed health check): revert now. */
  rollbackRequest: "rollback-request",
  /** Exit status of nix-env or of switch-to-configuration. */
  activationStatus: "activation-status",
  /** confirmed | rolled-back | not-started: the verdict, written last. */
  result: "result",
  rollbackReason: "rollback-reason",
  /** Exit status of the revert's switch-to-configuration. */
  rollbackStatus: "rollback-status",
  activationLog: "activation.log",
  rollbackLog: "rollback.log",
  /** The supervisor's own output, under setsid (under systemd-run the journal has it). */
  supervisorLog: "supervisor.log",
} as const;

/** The directory of one activation on the host. */
export function activationDir(nonce: string): string {
  return `${RUN_DIR}/${nonce}`;
}

/** The actions of activation.sh; each is one round trip, but session: the probe's and the launch's. */
export type ActivationAction =
  | "launch"
  | "session"
  | "status"
  | "confirm"
  | "request-rollback"
  | "pending"
  | "log";

/** The argv that runs one action of activation.sh on a host (`ps` there shows nix-deploy-ACTION). */
export function activationCommand(action: ActivationAction, args: readonly string[] = []): string[] {
  const program = action === "request-rollback" ? "nix-deploy-rollback" : `nix-deploy-${action}`;
  return hostCommand("activation", program, [action, ...args]);
}

/** What activation.sh reports of an activation (its `key=value` lines). */
export interface SupervisorState {
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

/** Parses the state activation.sh prints; lines it does not know, or values out of range, are skipped. */
export function parseState(stdout: string): SupervisorState {
  const state: SupervisorState = {};
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === "activation-status" && /^\d+$/.test(value)) state.activationStatus = Number(value);
    if (key === "result" && (value === "confirmed" || value === "rolled-back")) state.result = value;
    if (key === "rollback-reason") state.rollbackReason = value;
    if (key === "current") state.current = value || undefined;
    if (key === "profile" && profileGeneration(value) !== undefined)
      state.generation = profileGeneration(value);
    if (key === "supervisor" && (value === "systemd-run" || value === "setsid")) state.supervisor = value;
    if (key === "supervisor-process" && (value === "running" || value === "gone" || value === "unknown"))
      state.supervisorProcess = value;
  }
  return state;
}

/**
 * `activation.sh launch` (and `confirm ... changes`): the state; after a line `@@health` what
 * health.sh printed once the activation succeeded; after a line `@@changes` what changes.sh printed,
 * when it had finished (each undefined when it is not there).
 */
export function splitActivationAnswer(stdout: string): {
  state: SupervisorState;
  health?: string;
  changes?: string;
} {
  const [before, changes] = cutAtLine(stdout, "@@changes");
  const [head, health] = cutAtLine(before, "@@health");
  return { state: parseState(head), health, changes };
}

/** The text before the first line that is exactly `marker`, and the text after that line. */
function cutAtLine(text: string, marker: string): [string, string | undefined] {
  const at = text.startsWith(`${marker}\n`) ? 0 : text.indexOf(`\n${marker}\n`);
  if (at < 0) return [text, undefined];
  const start = at === 0 ? 0 : at + 1;
  return [text.slice(0, start), text.slice(start + marker.length + 1)];
}

/** The generation a profile link names: `system-12-link` (or a path ending so) is 12. */
export function profileGeneration(link: string): number | undefined {
  const generation = /-(\d+)-link$/.exec(link.trim())?.[1];
  return generation === undefined ? undefined : Number(generation);
}

/** `activation.sh pending`: the undecided activations (nonces) and the stale ones it removed. */
export function parsePending(stdout: string): { pending: string[]; pruned: string[] } {
  const lines = stdout.split("\n");
  const valuesOf = (key: string) =>
    lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1).trim());
  return { pending: valuesOf("pending"), pruned: valuesOf("pruned") };
}

/** `activation.sh log`: the log's lines, blank ones dropped. */
export function parseLogTail(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l.trim() !== "");
}
