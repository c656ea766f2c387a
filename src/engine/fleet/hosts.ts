import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { declaredCaches } from "../deploy/cache.js";
import type { LimitsInput } from "../deploy/limits.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { type HostKey, hostKeys } from "../keys/key.js";
import { DEFAULT_ESCALATION } from "../remote/escalation.js";
import type { SshTarget } from "../remote/ssh.js";
import { checkSigningKeyFile, checkSshFile, servedFlake, signingKeyRoots, sshFileRoots } from "../trust.js";
import { DEFAULT_SYSTEM_PROFILE, hostNameSchema, loadInventory, resolveInventoryPath } from "./inventory.js";

/** A machine nix-deploy can deploy to: its configuration in the flake and how to reach it. */
export interface Host {
  name: string;
  /** The flake has `nixosConfigurations.<name>`. */
  inFlake: boolean;
  /** The inventory has an entry for it. */
  inInventory: boolean;
  ssh: SshTarget;
  /** This machine, reached without ssh (inventory `local: true` or target `local`). */
  local: boolean;
  /** Who runs the steps: the ssh login user, or this process's user on a local host. */
  user: string;
  /** The command that gains root for the steps that need it; empty when `user` is root. */
  sudo: string[];
  /** A host of the fleet that builds this one's system (inventory `buildHost`). */
  buildHost?: string;
  /** A Nix secret key file the closure is signed with before the copy. */
  signingKey?: string;
  /** A binary cache the closure is pushed to once, for the host to substitute from (inventory `cache`). */
  cache?: string;
  /** The system profile whose generations are the host's systems. */
  profile: string;
  tags: string[];
  criticalServices: string[];
  /** Secrets uploaded to it at deploy time (inventory `keys`), never through the Nix store. */
  keys: HostKey[];
}

export interface Fleet {
  flake: string;
  inventoryPath?: string;
  hosts: Host[];
  /** The binary caches the inventory declares: the only ones a deployment may be asked to use. */
  caches?: string[];
  warnings: string[];
  /** The inventory's deployment limits (deploy/limits.ts). */
  limits?: LimitsInput;
}

export function assertFlakeDir(flake: string): void {
  if (!existsSync(join(flake, "flake.nix"))) {
    throw new UserError(
      `no flake.nix in ${flake}`,
      "run nix-deploy from your flake's directory, or pass --flake PATH (NIX_DEPLOY_FLAKE)",
    );
  }
}

/** Host names of `nixosConfigurations`, read by evaluating only the attribute names. */
export async function flakeHostNames(engine: Engine, flake: string, signal?: AbortSignal): Promise<string[]> {
  try {
    return await engine.nix.evalJson<string[]>(`${flake}#nixosConfigurations`, {
      apply: "builtins.attrNames",
      signal,
    });
  } catch (error) {
    if (error instanceof UserError && /does not provide attribute/.test(error.message)) return [];
    throw error;
  }
}

/** The hosts of a flake: `nixosConfigurations` merged with the inventory, sorted by name. */
export async function discoverFleet(
  engine: Engine,
  options: { flake?: string; signal?: AbortSignal; selectors?: readonly string[] } = {},
): Promise<Fleet> {
  const flake = servedFlake(engine, options.flake);
  assertFlakeDir(flake);
  const { inventory, path: inventoryPath } = await loadInventory(flake, engine.inventoryFile);
  // Evaluating the flake's host names costs a Nix evaluation. When every selector names a host of
  // the inventory, the deployment's own build proves the configuration exists, so skip it.
  const named = options.selectors?.every(
    (s) => s !== "all" && s !== "*" && !s.startsWith("@") && s in (inventory.hosts ?? {}),
  );
  const flakeNames = named
    ? [...(options.selectors ?? [])]
    : await flakeHostNames(engine, flake, options.signal);
  const warnings: string[] = [];
  const baseDir = inventoryPath ? dirname(inventoryPath) : flake;
  const defaults = inventory.defaults ?? {};
  const entries = inventory.hosts ?? {};
  const fileRoots = sshFileRoots(flake, engine.inventoryFile ? baseDir : undefined, engine.env.HOME);
  const sshFile = (name: string, field: "identityFile" | "knownHostsFile"): string | undefined => {
    const own = entries[name]?.[field];
    const path = resolveInventoryPath(baseDir, own ?? defaults[field]);
    return path && checkSshFile(path, own ? `hosts.${name}.${field}` : `defaults.${field}`, fileRoots);
  };
  const names = new Set<string>();
  for (const name of flakeNames) {
    if (hostNameSchema.safeParse(name).success) names.add(name);
    else
      warnings.push(
        `nixosConfigurations.${JSON.stringify(name)} is skipped: its name cannot be used as a host name`,
      );
  }
  for (const name of Object.keys(entries)) names.add(name);

  const self = userInfo().username;
  const hosts = [...names].sort().map((name): Host => {
    const entry = entries[name] ?? {};
    const local = entry.local === true || entry.target === "local";
    const address = local ? name : (entry.target ?? name);
    const loginUser = address.includes("@")
      ? address.slice(0, address.indexOf("@"))
      : (entry.user ?? defaults.user);
    const destination = address.includes("@") || !loginUser ? address : `${loginUser}@${address}`;
    // Without a user, ssh logs in as this process's user (unless the ssh config says otherwise).
    const user = local ? self : (loginUser ?? self);
    const signingKey = entry.signingKey ?? defaults.signingKey;
    return {
      name,
      inFlake: flakeNames.includes(name),
      inInventory: name in entries,
      local,
      user,
      // As colmena: root needs no escalation, whatever the inventory names.
      sudo: user === "root" ? [] : [...(entry.sudo ?? defaults.sudo ?? DEFAULT_ESCALATION)],
      buildHost: entry.buildHost ?? defaults.buildHost,
      cache: entry.cache ?? defaults.cache,
      signingKey:
        signingKey &&
        checkSigningKeyFile(
          resolveInventoryPath(baseDir, signingKey) as string,
          entry.signingKey ? `hosts.${name}.signingKey` : "defaults.signingKey",
          signingKeyRoots(engine.inventoryFile ? baseDir : undefined, engine.env.HOME),
        ),
      ssh: {
        destination,
        port: entry.port ?? defaults.port,
        identityFile: sshFile(name, "identityFile"),
        knownHostsFile: sshFile(name, "knownHostsFile"),
        options: [...(defaults.sshOptions ?? []), ...(entry.sshOptions ?? [])],
      },
      profile: entry.profile ?? defaults.profile ?? DEFAULT_SYSTEM_PROFILE,
      tags: entry.tags ?? [],
      criticalServices: [
        ...new Set([...(defaults.criticalServices ?? []), ...(entry.criticalServices ?? [])]),
      ],
      keys: hostKeys(inventory, name, baseDir, fileRoots),
    };
  });
  for (const host of hosts) {
    if (!host.inFlake)
      warnings.push(
        `${host.name} is in the inventory but has no nixosConfigurations.${host.name} in the flake`,
      );
  }
  return {
    flake,
    inventoryPath,
    hosts,
    warnings,
    limits: inventory.limits,
    caches: declaredCaches(inventory),
  };
}

/**
 * Picks hosts by selectors as colmena does: a name, `@tag`, or `all`. An unknown name is an error that
 * lists the valid ones.
 */
export function selectHosts(fleet: Fleet, selectors: readonly string[]): Host[] {
  const chosen = new Map<string, Host>();
  for (const selector of selectors) {
    if (selector === "all" || selector === "*") {
      for (const host of fleet.hosts) chosen.set(host.name, host);
    } else if (selector.startsWith("@")) {
      const tagged = fleet.hosts.filter((h) => h.tags.includes(selector.slice(1)));
      if (tagged.length === 0) {
        const tags = [...new Set(fleet.hosts.flatMap((h) => h.tags))].sort();
        throw new UserError(
          `no host has the tag ${selector}`,
          tags.length
            ? `known tags: ${tags.map((t) => `@${t}`).join(", ")}`
            : "no host has tags; add them in nix-deploy.json",
        );
      }
      for (const host of tagged) chosen.set(host.name, host);
    } else {
      const host = fleet.hosts.find((h) => h.name === selector);
      if (!host) {
        throw new UserError(
          `unknown host "${selector}"`,
          `known hosts: ${fleet.hosts.map((h) => h.name).join(", ") || "(none)"}`,
        );
      }
      chosen.set(host.name, host);
    }
  }
  return [...chosen.values()];
}

/**
 * Hosts by selectors, each of which must have a configuration in the flake: a host only in the
 * inventory has nothing to build, and leaving it out without a word would look like success.
 */
export function selectFlakeHosts(fleet: Fleet, selectors: readonly string[]): Host[] {
  const hosts = selectHosts(fleet, selectors);
  const missing = hosts.find((host) => !host.inFlake);
  if (missing)
    throw new UserError(
      `${missing.name} has no nixosConfigurations.${missing.name} in the flake`,
      "add it to the flake or remove it from the selection",
    );
  return hosts;
}

/** One host by its name: a tag or "all" would pick one host of many by chance, so they are refused. */
export function selectHost(fleet: Fleet, name: string, role = "host"): Host {
  const host = fleet.hosts.find((h) => h.name === name);
  if (host) return host;
  throw new UserError(
    name === "all" || name === "*" || name.startsWith("@")
      ? `the ${role} is one host, not "${name}"`
      : `unknown host "${name}"`,
    `known hosts: ${fleet.hosts.map((h) => h.name).join(", ") || "(none)"}`,
  );
}
