import { readFileSync } from "node:fs";
import { join } from "node:path";

/** What flake.lock says about the nixpkgs input: the check searches since its date, pins go to its rev. */
export interface LockedNixpkgs {
  /** The input's name in flake.nix (`nixpkgs`). */
  input: string;
  owner: string;
  repo: string;
  rev?: string;
  lastModified?: Date;
}

interface LockFile {
  root?: string;
  nodes?: Record<
    string,
    {
      inputs?: Record<string, string | string[]>;
      locked?: {
        type?: string;
        owner?: string;
        repo?: string;
        rev?: string;
        narHash?: string;
        lastModified?: number;
      };
    }
  >;
}

/**
 * The root's `nixpkgs` input (or its first input locked to a nixpkgs repository) from `flake.lock`;
 * undefined when there is no lock or no such input. Followed inputs (`follows`) name no node of their own.
 */
export function lockedNixpkgs(flakeDir: string): LockedNixpkgs | undefined {
  let lock: LockFile;
  try {
    lock = JSON.parse(readFileSync(join(flakeDir, "flake.lock"), "utf8"));
  } catch {
    return undefined;
  }
  const nodes = lock.nodes ?? {};
  const rootInputs = nodes[lock.root ?? "root"]?.inputs ?? {};
  const candidates = Object.entries(rootInputs).filter(
    (entry): entry is [string, string] => typeof entry[1] === "string",
  );
  const isNixpkgs = ([, node]: [string, string]) => nodes[node]?.locked?.repo?.toLowerCase() === "nixpkgs";
  const chosen = candidates.find(([name]) => name === "nixpkgs") ?? candidates.find(isNixpkgs);
  const locked = chosen ? nodes[chosen[1]]?.locked : undefined;
  if (!chosen || !locked) return undefined;
  return {
    input: chosen[0],
    owner: locked.owner ?? "NixOS",
    repo: locked.repo ?? "nixpkgs",
    rev: locked.rev,
    lastModified: locked.lastModified ? new Date(locked.lastModified * 1000) : undefined,
  };
}

/** Where a root input of flake.lock is locked now. */
export interface LockedInput {
  rev?: string;
  narHash?: string;
  lastModified?: number;
}

/**
 * The root's inputs of a lock file's text and where each is locked; followed inputs (`follows`)
 * have no node of their own and are left out. An unreadable lock gives no inputs.
 */
export function lockedInputs(lockText: string | undefined): Map<string, LockedInput> {
  const inputs = new Map<string, LockedInput>();
  if (!lockText) return inputs;
  let lock: LockFile;
  try {
    lock = JSON.parse(lockText);
  } catch {
    return inputs;
  }
  const nodes = lock.nodes ?? {};
  for (const [name, node] of Object.entries(nodes[lock.root ?? "root"]?.inputs ?? {})) {
    if (typeof node !== "string") continue;
    const locked = nodes[node]?.locked as LockedInput | undefined;
    if (locked)
      inputs.set(name, { rev: locked.rev, narHash: locked.narHash, lastModified: locked.lastModified });
  }
  return inputs;
}
