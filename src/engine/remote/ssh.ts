import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandResult, type RunningCommand, runCommand, startCommand, withResult } from "../process.js";
import { checkPrivateDir } from "../trust.js";
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
  /**
   * Where ControlMaster sockets live; one per target, shared by every command to that host. Empty
   * means a fresh private directory per runner, made at first use and removed at close().
   */
  controlDir: string;
  controlPersistSec: number;
}

export interface RemoteResult extends CommandResult {
  /** ssh itself failed (exit 255): the host was not reached or the connection dropped. */
  connectionFailed: boolean;
}

/** A command still running on a host (RemoteRunner.start). */
export type RunningRemote = RunningCommand<RemoteResult>;

function remoteResult(result: CommandResult): RemoteResult {
  return { ...result, connectionFailed: result.exitCode === 255 || result.timedOut };
}

export interface RemoteRunOptions {
  timeoutMs?: number;
  /**
   * false opens a fresh connection that cannot reuse a master: proof that a new login works. Such a
   * login carries a command and its answer, never a secret, so it prefers the classical
   * curve25519 key exchange where the host's ssh configuration allows it (see loginKexOptions).
   */
  multiplex?: boolean;
  input?: string | Uint8Array;
  signal?: AbortSignal;
}

/**
 * The control directory is never a predictable name in a shared directory such as /tmp: another
 * user could create it first and plant a socket our ssh would talk through. It is the configured
 * directory, else one in the user's own runtime directory, else a fresh mkdtemp directory.
 */
export function defaultSshSettings(env: NodeJS.ProcessEnv = process.env): SshSettings {
  return {
    connectTimeoutSec: Number(env.NIX_DEPLOY_SSH_CONNECT_TIMEOUT ?? 5),
    controlDir:
      env.NIX_DEPLOY_SSH_CONTROL_DIR ??
      (env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "nix-deploy-ssh") : ""),
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
    // A login of its own proves that a login works; learning the host's other keys is the master's
    // job (each key it offers is one more signature for the host to make).
    args.push("-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "UpdateHostKeys=no");
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
  private readonly loginKex = new Map<string, Promise<string[]>>();
  /** A directory this runner made with mkdtemp, removed at close(). */
  private ownControlDir?: string;

  constructor(readonly settings: SshSettings = defaultSshSettings()) {}

  /**
   * The control directory, checked before every multiplexed connection: ours and 0700, or refused.
   * Settings are shared with callers that build ssh options themselves (nix copy), so a fresh
   * directory is written back into them.
   */
  controlDir(): string {
    if (!this.settings.controlDir) {
      this.ownControlDir = mkdtempSync(join(tmpdir(), "nix-deploy-ssh-"));
      this.settings.controlDir = this.ownControlDir;
    }
    const dir = this.settings.controlDir;
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    checkPrivateDir(dir, "the ssh control directory (NIX_DEPLOY_SSH_CONTROL_DIR)");
    return dir;
  }

  /** ssh's options for a target, for commands that run ssh themselves (nix copy's NIX_SSHOPTS). */
  optionArgs(target: SshTarget, multiplex = true): string[] {
    if (multiplex) {
      this.controlDir();
      this.mastersUsed.set(targetKey(target), target);
    }
    return sshOptionArgs(target, this.settings, multiplex);
  }

  async run(
    target: SshTarget,
    argv: readonly string[],
    options: RemoteRunOptions = {},
  ): Promise<RemoteResult> {
    const result = await runCommand("ssh", await this.commandArgs(target, argv, options), {
      timeoutMs: options.timeoutMs,
      input: options.input,
      signal: options.signal,
    });
    return remoteResult(result);
  }

  /**
   * Starts argv on the host over the master and keeps the conversation open: its stdin takes more
   * input later (an activation session: the probe now, the launch once the system is copied).
   */
  start(target: SshTarget, argv: readonly string[], options: RemoteRunOptions = {}): RunningRemote {
    const running = startCommand(
      "ssh",
      this.optionArgs(target).concat("--", target.destination, remoteCommandLine(argv)),
      {
        timeoutMs: options.timeoutMs,
        input: options.input,
        signal: options.signal,
        keepStdinOpen: true,
      },
    );
    return withResult(running, remoteResult);
  }

  private async commandArgs(target: SshTarget, argv: readonly string[], options: RemoteRunOptions) {
    const multiplex = options.multiplex ?? true;
    // `--` ends ssh's options, so neither the destination nor the command is ever read as one.
    return [
      ...this.optionArgs(target, multiplex),
      ...(multiplex ? [] : await this.loginKexOptions(target)),
      "--",
      target.destination,
      remoteCommandLine(argv),
    ];
  }

  /**
   * For a fresh login that carries no secret: the key exchanges ssh would offer this target (`ssh -G`
   * reads its configuration, once per target and runner), with curve25519-sha256 first when they
   * include it. OpenSSH's default, the post-quantum sntrup761x25519 or mlkem768x25519, protects
   * recorded sessions against a future quantum computer and costs about three times the CPU on
   * both ends; a confirmation's nonce has nothing to protect once used. An algorithm the
   * configuration leaves out is never added.
   */
  private loginKexOptions(target: SshTarget): Promise<string[]> {
    const key = JSON.stringify([target.destination, target.port, target.identityFile, target.options]);
    let options = this.loginKex.get(key);
    if (!options) {
      options = runCommand(
        "ssh",
        ["-G", ...sshOptionArgs(target, this.settings, false), "--", target.destination],
        {
          timeoutMs: 5_000,
        },
      ).then((result) => classicalKexFirst(result.exitCode === 0 ? result.stdout : ""));
      this.loginKex.set(key, options);
    }
    return options;
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
    if (this.ownControlDir) rmSync(this.ownControlDir, { recursive: true, force: true });
  }
}

/** The key exchange was reordered for logins with nothing to protect: see loginKexOptions. */
export const CLASSICAL_KEX = "curve25519-sha256";

/** `-o KexAlgorithms=…` with CLASSICAL_KEX first, from `ssh -G`'s output; none when it is not allowed. */
export function classicalKexFirst(sshG: string): string[] {
  const line = /^kexalgorithms (\S+)$/m.exec(sshG)?.[1];
  const allowed = line?.split(",") ?? [];
  if (!allowed.includes(CLASSICAL_KEX) || allowed[0] === CLASSICAL_KEX) return [];
  return ["-o", `KexAlgorithms=${[CLASSICAL_KEX, ...allowed.filter((k) => k !== CLASSICAL_KEX)].join(",")}`];
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
