import { resolve } from "node:path";
import { createLogger, type Logger } from "./log.js";
import { Nix } from "./nix.js";
import { type HostAccess, type HostConnection, HostConnector } from "./remote/host.js";
import { defaultSshSettings, RemoteRunner } from "./remote/ssh.js";

/** What every engine operation needs: the flake it works on and the adapters to the outside world. */
export interface Engine {
  /** Absolute path of the flake directory (the default for every operation). */
  flake: string;
  /**
   * Other flakes the person starting the server allowed a tool call to name (`--allow-flake`);
   * every other directory is refused (see trust.ts).
   */
  allowedFlakes: string[];
  /** An explicit inventory file, when not `nix-deploy.json` at the flake root. */
  inventoryFile?: string;
  nix: Nix;
  /** The ssh transport: multiplexed connections, closed with the engine. */
  remote: RemoteRunner;
  /** The host a step runs on: over ssh, or this machine; root through the host's escalation command. */
  connect(host: HostAccess): HostConnection;
  log: Logger;
  /** How many hosts are probed or deployed at once. */
  parallelism: number;
  /** The environment the engine was made with: state directory, nix settings. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface EngineOptions {
  flake?: string;
  allowedFlakes?: string[];
  inventoryFile?: string;
  log?: Logger;
  logFile?: string | false;
  parallelism?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * The password the escalation command (sudo) reads on stdin, typed by a person at the CLI's
   * `--ask-sudo-password`. Kept in memory only: never logged, recorded or put on a command line.
   */
  sudoPassword?: string;
}

export function createEngine(options: EngineOptions = {}): Engine {
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger({ file: options.logFile, env }).log;
  const remote = new RemoteRunner(defaultSshSettings(env));
  const connector = new HostConnector(remote, options.sudoPassword);
  return {
    flake: resolve(options.flake ?? env.NIX_DEPLOY_FLAKE ?? process.cwd()),
    allowedFlakes: (options.allowedFlakes ?? []).map((flake) => resolve(flake)),
    inventoryFile: options.inventoryFile ?? env.NIX_DEPLOY_INVENTORY,
    nix: new Nix({ env }),
    remote,
    connect: (host) => connector.connect(host),
    log,
    parallelism: options.parallelism ?? Number(env.NIX_DEPLOY_PARALLEL ?? 8),
    env,
    close: () => remote.close(),
  };
}
