import { type CommandResult, runCommand, startCommand, withResult } from "../process.js";
import { escalate, escalationRefusal } from "./escalation.js";
import type { RemoteResult, RemoteRunner, RemoteRunOptions, RunningRemote, SshTarget } from "./ssh.js";

/**
 * One interface for every machine a step runs on, as colmena's host trait has: the same pipeline
 * reaches a host over ssh, or this machine itself with no ssh at all. Call sites say only whether a
 * step needs root; how root is gained (nothing for root, sudo or doas or run0 for another user) is
 * decided here, from the inventory.
 */

/** How to reach a host: what the fleet's Host carries for it. */
export interface HostAccess {
  name: string;
  /** This machine: commands are local processes, the store is this machine's own. */
  local: boolean;
  ssh: SshTarget;
  /** The user the steps run as: the ssh login user, or this process's user for a local host. */
  user: string;
  /** The command that gains root for the steps that need it; empty when `user` is root. */
  sudo: readonly string[];
}

export interface HostRunOptions extends RemoteRunOptions {
  /** The step changes the system or reads root's state: it runs through the escalation command. */
  root?: boolean;
}

export interface HostConnection {
  readonly local: boolean;
  /** Where the steps run, for a person: `deploy@10.0.0.5` or `this machine`. */
  readonly where: string;
  /**
   * Runs argv on the host and returns what it left behind; a non-zero exit is a result. A step the
   * escalation command refused to run (a password wanted, no sudo rule) throws a UserError that
   * names the remedy: no step is ever left waiting at a prompt.
   */
  run(argv: readonly string[], options?: HostRunOptions): Promise<RemoteResult>;
  /**
   * Starts argv on the host and keeps its stdin open for more input: a conversation in one session
   * (see RunningCommand). Its result throws the escalation command's refusal as run() does.
   */
  start(argv: readonly string[], options?: HostRunOptions): RunningRemote;
  /**
   * The host's store for `nix copy`, with the environment that reaches it; undefined when the host's
   * store is this machine's (nothing to copy).
   */
  store(): { uri: string; env: Record<string, string> } | undefined;
}

/** Opens HostConnections: ssh ones over the engine's multiplexing runner, local ones as processes. */
export class HostConnector {
  constructor(
    private readonly ssh: RemoteRunner,
    private readonly sudoPassword?: string,
  ) {}

  connect(host: HostAccess): HostConnection {
    return host.local
      ? new LocalHost(host, this.sudoPassword)
      : new SshHost(host, this.ssh, this.sudoPassword);
  }
}

/**
 * argv and its input as they run: through the escalation command when the step needs root (its
 * password line first on stdin, then the command's own input), and a check of the result that turns
 * the escalation command's refusal into an error.
 */
function withEscalation(
  host: HostAccess,
  password: string | undefined,
  argv: readonly string[],
  options: HostRunOptions,
): { argv: string[]; input: string | Uint8Array | undefined; check: (result: RemoteResult) => RemoteResult } {
  if (!options.root || host.sudo.length === 0)
    return { argv: [...argv], input: options.input, check: (result) => result };
  const escalated = escalate(argv, host.sudo, password, host.name);
  // sudo -S reads the password line first; the command's own input (maybe a binary key) follows.
  const input =
    escalated.input === undefined
      ? options.input
      : typeof options.input === "string" || options.input === undefined
        ? `${escalated.input}${options.input ?? ""}`
        : Buffer.concat([Buffer.from(escalated.input), options.input]);
  const check = (result: RemoteResult) => {
    if (result.connectionFailed) return result;
    const refusal = escalationRefusal(result, host.sudo, {
      host: host.name,
      user: host.user,
      withPassword: password !== undefined,
    });
    if (refusal) throw refusal;
    return result;
  };
  return { argv: escalated.argv, input, check };
}

/** Runs through the escalation command when asked for root, and turns its refusal into an error. */
async function runMaybeRoot(
  host: HostAccess,
  password: string | undefined,
  argv: readonly string[],
  options: HostRunOptions,
  runArgv: (argv: string[], input: string | Uint8Array | undefined) => Promise<RemoteResult>,
): Promise<RemoteResult> {
  const command = withEscalation(host, password, argv, options);
  return command.check(await runArgv(command.argv, command.input));
}

/** Starts through the escalation command when asked for root; the result throws its refusal. */
function startMaybeRoot(
  host: HostAccess,
  password: string | undefined,
  argv: readonly string[],
  options: HostRunOptions,
  startArgv: (argv: string[], input: string | Uint8Array | undefined) => RunningRemote,
): RunningRemote {
  const command = withEscalation(host, password, argv, options);
  const running = startArgv(command.argv, command.input);
  return withResult(running, command.check);
}

class SshHost implements HostConnection {
  readonly local = false;
  readonly where: string;

  constructor(
    private readonly host: HostAccess,
    private readonly runner: RemoteRunner,
    private readonly password: string | undefined,
  ) {
    this.where = host.ssh.destination;
  }

  run(argv: readonly string[], options: HostRunOptions = {}): Promise<RemoteResult> {
    return runMaybeRoot(this.host, this.password, argv, options, (command, input) =>
      this.runner.run(this.host.ssh, command, { ...options, input }),
    );
  }

  start(argv: readonly string[], options: HostRunOptions = {}): RunningRemote {
    return startMaybeRoot(this.host, this.password, argv, options, (command, input) =>
      this.runner.start(this.host.ssh, command, { ...options, input }),
    );
  }

  store() {
    return {
      uri: `ssh://${this.host.ssh.destination}`,
      env: { NIX_SSHOPTS: this.runner.optionArgs(this.host.ssh).join(" ") },
    };
  }
}

/**
 * This machine, without ssh: each step is a local process (under sudo when this process is not root
 * and the step needs root). There is no connection to lose, and the store is this process's own.
 */
class LocalHost implements HostConnection {
  readonly local = true;
  readonly where = "this machine";

  constructor(
    private readonly host: HostAccess,
    private readonly password: string | undefined,
  ) {}

  run(argv: readonly string[], options: HostRunOptions = {}): Promise<RemoteResult> {
    return runMaybeRoot(this.host, this.password, argv, options, async ([file, ...args], input) => {
      const result: CommandResult = await runCommand(file as string, args, {
        timeoutMs: options.timeoutMs,
        input,
        signal: options.signal,
      });
      return { ...result, connectionFailed: false };
    });
  }

  start(argv: readonly string[], options: HostRunOptions = {}): RunningRemote {
    return startMaybeRoot(this.host, this.password, argv, options, ([file, ...args], input) => {
      const running = startCommand(file as string, args, {
        timeoutMs: options.timeoutMs,
        input,
        signal: options.signal,
        keepStdinOpen: true,
      });
      return withResult(running, (result) => ({ ...result, connectionFailed: false }));
    });
  }

  store() {
    return undefined;
  }
}
