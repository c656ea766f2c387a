import { createHash, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { stateDir } from "../log.js";
import { processAlive } from "../state.js";

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
 * deployment that holds it; a lock whose process died (killed deployer) is taken over, by exactly
 * one of the deployers that find it so.
 *
 * Every file here appears whole or not at all: it is written under a temporary name and linked to
 * its own, which fails if the name exists. So a lock is never seen empty, and of two creators
 * exactly one succeeds.
 */
export function acquireHostLock(
  host: string,
  deploymentId: string,
  env: NodeJS.ProcessEnv = process.env,
): HostLock {
  const file = lockFile(host, env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const holder: LockHolder = { deploymentId, pid: process.pid, since: new Date().toISOString() };
  const mine = JSON.stringify(holder);
  const release = () => {
    if (readText(file) === mine) rmSync(file, { force: true });
  };
  // Each round either takes the lock, refuses, or sees it change hands (released, or taken over by
  // another deployer) and looks again; a takeover in progress takes microseconds.
  for (let round = 0; round < 200; round++) {
    if (createExclusive(file, mine)) return { host, release };
    const current = readText(file);
    if (current === undefined) continue;
    const previous = parseHolder(current);
    if (previous && previous.pid === process.pid && previous.deploymentId !== deploymentId) {
      throw new UserError(
        `${host} is being deployed by deployment ${previous.deploymentId} in this server (since ${previous.since})`,
        "wait for that deployment to finish",
      );
    }
    if (previous && previous.pid !== process.pid && processAlive(previous.pid)) {
      throw new UserError(
        `${host} is being deployed by deployment ${previous.deploymentId} (pid ${previous.pid}, since ${previous.since})`,
        "wait for that deployment to finish, or stop it; a lock whose process has died is taken over by itself",
      );
    }
    // The holder is dead (or the file is not a lock this code wrote). Replacing it is a remove and
    // a create, so it is done under a claim that only one deployer can hold for this dead holder.
    const claims = claimTakeover(file, current);
    if (!claims) {
      pause(5);
      continue;
    }
    try {
      // Under the claim the lock can only still be the dead holder's, or another's already.
      if (readText(file) === current) rmSync(file, { force: true });
      if (createExclusive(file, mine)) return { host, release, tookOverFrom: previous };
    } finally {
      for (const claim of claims) rmSync(claim, { force: true });
    }
  }
  throw new UserError(
    `${host}'s deploy lock keeps changing hands (${file})`,
    "another deployer is taking it at this moment; try again",
  );
}

/**
 * The claim to replace the lock whose content is `dead`: a file named after that content, created
 * exclusively, holding the claimant's pid. When the claimant died before finishing (its claim stays),
 * the claim on its claim is next, and so on: at every step exactly one deployer can go on. Returns
 * the claim files taken, or undefined when a live deployer is replacing this lock right now.
 */
function claimTakeover(file: string, dead: string): string[] | undefined {
  const claims: string[] = [];
  let name = `${file}.takeover-${digest(dead)}`;
  for (let depth = 0; depth < 16; depth++) {
    if (createExclusive(name, String(process.pid))) return [...claims, name];
    const claimant = readText(name);
    if (claimant === undefined) return undefined;
    if (processAlive(Number(claimant))) return undefined;
    claims.push(name);
    name = `${name}-${digest(claimant)}`;
  }
  return undefined;
}

function createExclusive(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as LockHolder;
    return typeof value?.pid === "number" && typeof value.deploymentId === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** A short synchronous wait: the lock is taken synchronously, and the wait is for microseconds' work. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
