import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { stateDir } from "../log.js";
import { processAlive, readJson, writeFileAtomic } from "../state.js";

/** Who holds a host: the deployment, its process, since when. */
export interface LockHolder {
  deploymentId: string;
  pid: number;
  since: string;
}

export interface HostLock {
  host: string;
  release(): void;
  /** The holder this lock replaced because its process was dead. */
  tookOverFrom?: LockHolder;
}

function lockFile(host: string, env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "locks", `${host}.lock`);
}

/**
 * Takes the deploy lock of a host on this machine. A lock whose process is alive refuses, naming the
 * deployment that holds it; a lock whose process died (killed deployer) is taken over.
 */
export function acquireHostLock(
  host: string,
  deploymentId: string,
  env: NodeJS.ProcessEnv = process.env,
): HostLock {
  const file = lockFile(host, env);
  const holder: LockHolder = { deploymentId, pid: process.pid, since: new Date().toISOString() };
  const release = () => {
    const current = readJson<LockHolder>(file);
    if (current?.deploymentId === deploymentId && current.pid === process.pid) rmSync(file, { force: true });
  };
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, "wx", 0o600);
    writeSync(fd, JSON.stringify(holder));
    closeSync(fd);
    return { host, release };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const current = readJson<LockHolder>(file);
  if (current && current.pid !== process.pid && processAlive(current.pid)) {
    throw new UserError(
      `${host} is being deployed by deployment ${current.deploymentId} (pid ${current.pid}, since ${current.since})`,
      "wait for that deployment to finish, or stop it; a lock whose process has died is taken over by itself",
    );
  }
  if (current && current.pid === process.pid && current.deploymentId !== deploymentId) {
    throw new UserError(
      `${host} is being deployed by deployment ${current.deploymentId} in this server (since ${current.since})`,
      "wait for that deployment to finish",
    );
  }
  writeFileAtomic(file, JSON.stringify(holder), { backup: false });
  return { host, release, tookOverFrom: current };
}
