import { resolve } from "node:path";
import { createLogger, type Logger } from "./log.js";
import { Nix } from "./nix.js";
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
  remote: RemoteRunner;
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
}

export function createEngine(options: EngineOptions = {}): Engine {
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger({ file: options.logFile, env }).log;
  const remote = new RemoteRunner(defaultSshSettings(env));
  return {
    flake: resolve(options.flake ?? env.NIX_DEPLOY_FLAKE ?? process.cwd()),
    allowedFlakes: (options.allowedFlakes ?? []).map((flake) => resolve(flake)),
    inventoryFile: options.inventoryFile ?? env.NIX_DEPLOY_INVENTORY,
    nix: new Nix({ env }),
    remote,
    log,
    parallelism: options.parallelism ?? Number(env.NIX_DEPLOY_PARALLEL ?? 8),
    env,
    close: () => remote.close(),
  };
}
