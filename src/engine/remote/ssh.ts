import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandResult, runCommand } from "../process.js";
import { remoteCommandLine } from "./quote.js";

/** How to reach one host over ssh, resolved from the inventory (or just the host name). */
export interface SshTarget {
  /** `user@address` or `address`, as `ssh` and `nixos-rebuild --target-host` take it. */
  destination: string;
  port?: number;
  identityFile?: string;
  knownHostsFile?: string;
  /** Extra `-o` options, each `Key=value`. */
  options: readonly string[];
}

export interface SshSettings {
  connectTimeoutSec: number;
  /** Where ControlMaster sockets live; one per target, shared by every command to that host. */
  controlDir: string;
  controlPersistSec: number;
}

export interface RemoteResult extends CommandResult {
  /** ssh itself failed (exit 255): the host was not reached or the connection dropped. */
  connectionFailed: boolean;
}

export interface RemoteRunOptions {
  timeoutMs?: number;
  /** false opens a fresh connection that cannot reuse a master: proof that a new login works. */
  multiplex?: boolean;
  input?: string;
  signal?: AbortSignal;
}

export function defaultSshSettings(env: NodeJS.ProcessEnv = process.env): SshSettings {
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return {
    connectTimeoutSec: Number(env.NIX_DEPLOY_SSH_CONNECT_TIMEOUT ?? 5),
    controlDir: env.NIX_DEPLOY_SSH_CONTROL_DIR ?? join(tmpdir(), `nix-deploy-ssh-${uid}`),
    controlPersistSec: 60,
  };
}

/** The ssh options for a target, without the destination: also what NIX_SSHOPTS needs for `nix copy`. */
export function sshOptionArgs(target: SshTarget, settings: SshSettings, multiplex: boolean): string[] {
  const args = [
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${settings.connectTimeoutSec}`,
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=3",
  ];
  if (multiplex) {
    args.push(
      "-o",
      "ControlMaster=auto",
      "-o",
      `ControlPath=${join(settings.controlDir, "%C")}`,
      "-o",
      `ControlPersist=${settings.controlPersistSec}`,
    );
  } else {
    args.push("-o", "ControlMaster=no", "-o", "ControlPath=none");
  }
  if (target.port !== undefined) args.push("-p", String(target.port));
  if (target.identityFile) args.push("-i", target.identityFile, "-o", "IdentitiesOnly=yes");
  if (target.knownHostsFile) args.push("-o", `UserKnownHostsFile=${target.knownHostsFile}`);
  for (const option of target.options) args.push("-o", option);
  return args;
}

/**
 * Runs commands on hosts over ssh. Connections to a host are multiplexed through one master so a
 * deployment's many small commands cost one handshake; `close()` ends the masters it started.
 */
export class RemoteRunner {
  private readonly mastersUsed = new Map<string, SshTarget>();

  constructor(readonly settings: SshSettings = defaultSshSettings()) {}

  async run(
    target: SshTarget,
    argv: readonly string[],
    options: RemoteRunOptions = {},
  ): Promise<RemoteResult> {
    const multiplex = options.multiplex ?? true;
    if (multiplex) {
      mkdirSync(this.settings.controlDir, { recursive: true, mode: 0o700 });
      this.mastersUsed.set(targetKey(target), target);
    }
    // `--` ends ssh's options, so neither the destination nor the command is ever read as one.
    const args = [
      ...sshOptionArgs(target, this.settings, multiplex),
      "--",
      target.destination,
      remoteCommandLine(argv),
    ];
    const result = await runCommand("ssh", args, {
      timeoutMs: options.timeoutMs,
      input: options.input,
      signal: options.signal,
    });
    return { ...result, connectionFailed: result.exitCode === 255 || result.timedOut };
  }

  /** Ends every ControlMaster this runner may have started. */
  async close(): Promise<void> {
    const targets = [...this.mastersUsed.values()];
    this.mastersUsed.clear();
    await Promise.all(
      targets.map((target) =>
        runCommand(
          "ssh",
          [...sshOptionArgs(target, this.settings, true), "-O", "exit", "--", target.destination],
          {
            timeoutMs: 5_000,
          },
        ),
      ),
    );
  }
}

function targetKey(target: SshTarget): string {
  return `${target.destination}:${target.port ?? 22}`;
}

/** The first line of ssh's complaint, which names the reason (refused, timed out, host key, auth). */
export function connectionFailureReason(result: CommandResult): string {
  if (result.timedOut) return "ssh timed out";
  const line = result.stderr
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith("Warning: Permanently added"));
  return line ?? `ssh exited with ${result.exitCode}`;
}
