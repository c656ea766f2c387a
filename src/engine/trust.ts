/**
 * What the server trusts, in one place. It trusts the flake it was started with (and flakes the
 * person starting it allowed), the inventory fields listed here, and that person. It does not trust
 * tool inputs (an assistant can be steered by text it read), file contents or other local users, so
 * every path or option that reaches a command from those sources is checked here first.
 */
import { lstatSync, realpathSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { UserError } from "./errors.js";

/** True when `path` is `root` or inside it (both absolute; compared as given). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The real path of `path`, following every link; for a path that does not exist yet, the real path
 * of its deepest existing parent joined with the rest, so a link in any existing component counts.
 */
export function realPathOf(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    if (parent === absolute) return absolute;
    return join(realPathOf(parent), absolute.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
  }
}

/**
 * The flake an operation works on. A tool call may name a flake, but only one the server serves: the
 * one it was started with, or one the person starting it allowed (`--allow-flake`). Any other
 * directory would bring its own inventory (ssh options, key files) into a server that runs as the
 * deployer, so it is refused, whatever the path spelling or links.
 */
export function servedFlake(
  served: { flake: string; allowedFlakes?: readonly string[] },
  requested: string | undefined,
): string {
  if (requested === undefined) return served.flake;
  const allowed = [served.flake, ...(served.allowedFlakes ?? [])];
  const wanted = realPathOf(requested);
  const match = allowed.find((flake) => realPathOf(flake) === wanted);
  if (match) return match;
  throw new UserError(
    `the flake ${requested} is not one this server serves (it serves ${allowed.join(", ")})`,
    "leave out the flake argument to use the server's flake; to serve another, the person running the server starts it with --flake PATH or --allow-flake PATH",
  );
}

/**
 * ssh options an inventory may set (`sshOptions`, `-o Key=value`). An allow-list, not a deny-list:
 * ssh has many options that run a command (ProxyCommand, LocalCommand, KnownHostsCommand, Match
 * exec), load code (PKCS11Provider, SecurityKeyProvider), change which host keys are trusted
 * (UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias, StrictHostKeyChecking), send the
 * deployer's environment or agent to the host (SendEnv, SetEnv, ForwardAgent), open ports
 * (LocalForward, RemoteForward, DynamicForward, Tunnel) or take over our multiplexing (ControlPath,
 * ControlMaster). Keys are case-insensitive in ssh, so they are compared in lower case.
 */
const SAFE_SSH_OPTIONS = new Map<string, RegExp | undefined>(
  Object.entries({
    addressfamily: /^(any|inet|inet6)$/i,
    batchmode: /^yes$/i,
    bindaddress: /^[A-Za-z0-9.:%-]+$/,
    bindinterface: /^[A-Za-z0-9._-]+$/,
    casignaturealgorithms: undefined,
    ciphers: undefined,
    compression: /^(yes|no)$/i,
    connectionattempts: /^\d{1,3}$/,
    connecttimeout: /^\d{1,5}$/,
    hashknownhosts: /^(yes|no)$/i,
    hostbasedacceptedalgorithms: undefined,
    hostkeyalgorithms: undefined,
    identitiesonly: /^(yes|no)$/i,
    ipqos: /^[A-Za-z0-9 ]+$/,
    kexalgorithms: undefined,
    loglevel: /^(quiet|fatal|error|info|verbose|debug|debug1|debug2|debug3)$/i,
    macs: undefined,
    numberofpasswordprompts: /^\d{1,2}$/,
    port: /^\d{1,5}$/,
    preferredauthentications: /^[A-Za-z0-9,-]+$/,
    // A jump host is reached by ssh itself, as `[user@]host[:port]`, comma-separated; never an option.
    proxyjump: /^(?:(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9[][A-Za-z0-9_.:%[\]-]*,?)+$/,
    pubkeyacceptedalgorithms: undefined,
    pubkeyacceptedkeytypes: undefined,
    pubkeyauthentication: /^(yes|no)$/i,
    rekeylimit: /^[A-Za-z0-9 ]+$/,
    serveraliveinterval: /^\d{1,5}$/,
    serveralivecountmax: /^\d{1,3}$/,
    // Refusing unknown or changed host keys is the default; `no` needs the inventory's explicit
    // `acceptUnknownHostKeys: true` (see checkSshOption).
    stricthostkeychecking: /^(yes|accept-new|ask)$/i,
    tcpkeepalive: /^(yes|no)$/i,
    updatehostkeys: /^(no)$/i,
  }),
);

/** Options that, when present, most likely meant something the inventory has a field for. */
const FIELD_FOR_OPTION: Record<string, string> = {
  identityfile: "identityFile",
  userknownhostsfile: "knownHostsFile",
  port: "port",
  user: "target (user@address) or defaults.user",
};

/**
 * Checks one inventory ssh option; throws naming the field when it is not allowed. `acknowledged`
 * is the inventory's `acceptUnknownHostKeys`, the only way to turn host key checking off.
 */
export function checkSshOption(option: string, field: string, acknowledged = false): void {
  const eq = option.indexOf("=");
  const key = option.slice(0, eq).toLowerCase();
  const value = option.slice(eq + 1).trim();
  if (key === "stricthostkeychecking" && /^(no|off)$/i.test(value)) {
    if (acknowledged) return;
    throw new UserError(
      `${field}: StrictHostKeyChecking=${value} turns off host key checking, so any machine could pose as the host`,
      "put the host's key in a known_hosts file (knownHostsFile), or set acceptUnknownHostKeys: true next to it if you accept that risk",
    );
  }
  if (!SAFE_SSH_OPTIONS.has(key)) {
    const field2 = FIELD_FOR_OPTION[key];
    throw new UserError(
      `${field}: the ssh option ${option.slice(0, eq)} is not allowed in an inventory (it can run commands, load code, change which host keys are trusted or forward the deployer's credentials)`,
      field2
        ? `use the inventory field ${field2} instead`
        : `allowed options: ${[...SAFE_SSH_OPTIONS.keys()].join(", ")} (case-insensitive)`,
    );
  }
  const pattern = SAFE_SSH_OPTIONS.get(key);
  if (pattern && !pattern.test(value)) {
    throw new UserError(
      `${field}: ${option} has a value ssh would not take here`,
      `give ${option.slice(0, eq)} a plain value (${pattern.source})`,
    );
  }
}

/**
 * Where the inventory's key and known_hosts files may be: inside the flake, beside an inventory
 * file the person starting the server named, or in their own ~/.ssh. A file elsewhere (another
 * user's directory, /tmp) could be swapped by someone else, and a known_hosts file there would
 * decide which machines we trust.
 */
export function sshFileRoots(
  flake: string,
  explicitInventoryDir: string | undefined,
  home: string = homedir(),
): string[] {
  const roots = [flake, join(home, ".ssh")];
  if (explicitInventoryDir) roots.push(explicitInventoryDir);
  return roots;
}

export function checkSshFile(path: string, field: string, roots: readonly string[]): string {
  return checkFileWithin(
    path,
    roots,
    (leadsTo) =>
      new UserError(
        `${field}: ${path} is outside the flake and ~/.ssh${leadsTo}`,
        `keep ssh keys and known_hosts files in the flake's directory or in ~/.ssh (allowed: ${roots.join(", ")})`,
      ),
  );
}

/** `path`, when it (links resolved) lies in one of `roots`; else the error `refuse` makes. */
function checkFileWithin(
  path: string,
  roots: readonly string[],
  refuse: (leadsTo: string) => UserError,
): string {
  const real = realPathOf(path);
  if (!roots.some((root) => isInside(realPathOf(root), real)))
    throw refuse(real !== resolve(path) ? ` (it leads to ${real})` : "");
  return path;
}

/**
 * Where a Nix signing key (a secret) may be: /etc/nix, ~/.config/nix, ~/.ssh, or beside an inventory
 * file the person starting the server named. Never inside the flake: a flake's tracked files are
 * copied into the world-readable Nix store by every build.
 */
export function signingKeyRoots(
  explicitInventoryDir: string | undefined,
  home: string = homedir(),
): string[] {
  const beside = explicitInventoryDir ? [explicitInventoryDir] : [];
  return ["/etc/nix", join(home, ".config", "nix"), join(home, ".ssh"), ...beside];
}

export function checkSigningKeyFile(path: string, field: string, roots: readonly string[]): string {
  return checkFileWithin(
    path,
    roots,
    (leadsTo) =>
      new UserError(
        `${field}: the signing key ${path} is outside the places a secret key may be${leadsTo}`,
        `keep it in one of ${roots.join(", ")}; never in the flake, whose files end up in the world-readable Nix store`,
      ),
  );
}

/**
 * A directory only this user can use: ours, not a link, no access for group or others. A directory
 * another user made first (a predictable name in /tmp) would let them plant sockets we connect to.
 */
export function checkPrivateDir(dir: string, what: string): void {
  const info = lstatSync(dir);
  if (!info.isDirectory() || info.isSymbolicLink()) {
    throw new UserError(`${what} ${dir} is not a directory`, `remove it, or point ${what} elsewhere`);
  }
  const owner = privateToUs(info);
  if (!owner.private)
    throw new UserError(
      `${what} ${dir} is not private (${owner.found}): another user could plant files in it`,
      `use a directory owned by uid ${owner.uid} with mode 0700 (chmod 700 ${dir}), or remove it`,
    );
}

/** A secret file only this user can read: ours, a regular file, no access for group or others. */
export function checkPrivateFile(file: string, what: string): void {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(file);
  } catch (error) {
    throw new UserError(`cannot read ${what} ${file}: ${(error as Error).message}`, "check the path");
  }
  const owner = privateToUs(info);
  if (!info.isFile() || !owner.private)
    throw new UserError(
      `${what} ${file} is not a private file (${owner.found}): another user could read or replace the secret`,
      `make it a regular file owned by uid ${owner.uid} with mode 0600 (chmod 600 ${file})`,
    );
}

/**
 * Whether a file or directory is ours alone: owned by this process's user (by its own owner where
 * the platform has no uids), with no permission for the group or others. `found` says what it is
 * instead, for the error.
 */
function privateToUs(info: Stats): { private: boolean; uid: number; found: string } {
  const uid = typeof process.getuid === "function" ? process.getuid() : info.uid;
  return {
    private: info.uid === uid && (info.mode & 0o077) === 0,
    uid,
    found: `owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)}`,
  };
}
