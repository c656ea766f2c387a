/**
 * The accounts of a simulated host, as a NixOS host has them: root, a login user `deploy` with a
 * real sudo (Debian's package) and a NOPASSWD rule (or a rule that wants the user's password), and
 * the nix-daemon's trust (trusted-users, trusted-public-keys). Each host sees its own /etc/passwd,
 * /etc/group, /etc/shadow, /etc/sudoers and /etc/pam.d/sudo, bind-mounted over the machine's inside
 * the host's mount namespace; the machine's own files are never written.
 */
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export const DEPLOY_USER = "deploy";
export const DEPLOY_UID = 4000;

/** How a host is reached and what it trusts. */
export interface SimHostAccess {
  /** The inventory's login user: root (default) or the non-root `deploy`. */
  login?: "root" | "deploy";
  /** sshd's PermitRootLogin no: root cannot log in at all. */
  permitRootLogin?: boolean;
  /** deploy's sudo wants this password (no NOPASSWD rule); deploy's password in /etc/shadow. */
  sudoPassword?: string;
  /** The nix-daemon's trusted-users (default: root and deploy). */
  trustedUsers?: string[];
  /** Public keys (`name:base64`) the host's Nix accepts signatures of, besides none. */
  trustedPublicKeys?: string[];
  /** Binary caches the host's Nix substitutes from (nix.settings.substituters). */
  substituters?: string[];
  /** The deployer runs inside this host's namespaces and deploys it as `local`: no ssh. */
  local?: boolean;
}

/** The host's /etc/nix/nix.conf, as NixOS generates it from nix.settings. */
export function hostNixConf(access: SimHostAccess): string {
  return [
    "experimental-features = nix-command flakes",
    "sandbox = false",
    `substituters = ${(access.substituters ?? []).join(" ")}`,
    `trusted-users = ${(access.trustedUsers ?? ["root", DEPLOY_USER]).join(" ")}`,
    `trusted-public-keys = ${(access.trustedPublicKeys ?? []).join(" ")}`,
    "",
  ].join("\n");
}

/**
 * Writes the host's account files under HOSTDIR/etc/accounts and returns the bind mounts
 * (source, then the path inside the host) that put them in place when the host boots.
 */
export function writeHostAccounts(hostDir: string, access: SimHostAccess): Array<[string, string]> {
  const dir = join(hostDir, "etc", "accounts");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const home = join(hostDir, "deploy-home");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chownSync(home, DEPLOY_UID, DEPLOY_UID);
  // The host's own /etc layer (hardware.ts) may already add users (alice): start from it.
  const machine = (file: string) => {
    const own = join(hostDir, "etc-upper", file.replace(/^\/etc\//, ""));
    return readFileSync(existsSync(own) ? own : file, "utf8").replace(/\n?$/, "\n");
  };
  const without = (text: string) =>
    text
      .split("\n")
      .filter((line) => !line.startsWith(`${DEPLOY_USER}:`))
      .join("\n");
  const hash = access.sudoPassword ? hashPassword(access.sudoPassword) : "*";
  const files: Array<[string, string, string, number]> = [
    [
      "passwd",
      "/etc/passwd",
      `${without(machine("/etc/passwd"))}${DEPLOY_USER}:x:${DEPLOY_UID}:${DEPLOY_UID}:nix-deploy login user:${home}:/bin/sh\n`,
      0o644,
    ],
    ["group", "/etc/group", `${without(machine("/etc/group"))}${DEPLOY_USER}:x:${DEPLOY_UID}:\n`, 0o644],
    [
      "shadow",
      "/etc/shadow",
      `${without(machine("/etc/shadow"))}${DEPLOY_USER}:${hash}:19000:0:99999:7:::\n`,
      0o600,
    ],
    [
      "sudoers",
      "/etc/sudoers",
      [
        // NixOS's sudo: no secure_path, so the login session's PATH (the system's) is kept.
        "Defaults env_reset",
        "root ALL=(ALL:ALL) SETENV: ALL",
        access.sudoPassword
          ? `${DEPLOY_USER} ALL=(ALL:ALL) ALL`
          : `${DEPLOY_USER} ALL=(ALL:ALL) NOPASSWD: ALL`,
        "",
      ].join("\n"),
      0o440,
    ],
    [
      "pam-sudo",
      "/etc/pam.d/sudo",
      // As NixOS's PAM: every session gets the system's environment (LOCALE_ARCHIVE among it).
      [
        "#%PAM-1.0",
        "session required pam_limits.so",
        `session required pam_env.so readenv=1 envfile=${join(dir, "environment")}`,
        "@include common-auth",
        "@include common-account",
        "@include common-session-noninteractive",
        "",
      ].join("\n"),
      0o644,
    ],
    ["environment", "", "LOCALE_ARCHIVE=/run/current-system/sw/lib/locale/locale-archive\n", 0o644],
  ];
  const mounts: Array<[string, string]> = [];
  for (const [name, target, text, mode] of files) {
    const file = join(dir, name);
    writeFileSync(file, text);
    chmodSync(file, mode);
    if (target) mounts.push([file, target]);
  }
  return mounts;
}

function hashPassword(password: string): string {
  const result = spawnSync("openssl", ["passwd", "-6", "-stdin"], { input: `${password}\n` });
  if (result.status !== 0) throw new Error(`openssl passwd failed: ${result.stderr}`);
  return result.stdout.toString().trim();
}

/** A Nix signing key pair, as `nix-store --generate-binary-cache-key` makes one; the secret 0600. */
export function newSigningKey(dir: string, name: string): { secretFile: string; publicKey: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secretFile = join(dir, `${name}.secret`);
  const publicFile = join(dir, `${name}.public`);
  const result = spawnSync("nix-store", ["--generate-binary-cache-key", name, secretFile, publicFile]);
  if (result.status !== 0) throw new Error(`generating a signing key failed: ${result.stderr}`);
  chmodSync(secretFile, 0o600);
  return { secretFile, publicKey: readFileSync(publicFile, "utf8").trim() };
}

/**
 * A copy of a secret key in the deployer's ~/.config/nix (0600 in a 0700 directory), one of the
 * places a signing key may be named from (never the flake); returns its path.
 */
export function deployerNixKey(home: string, secretFile: string, name: string): string {
  const dir = join(home, ".config", "nix");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  copyFileSync(secretFile, path);
  chmodSync(path, 0o600);
  return path;
}

/**
 * The fleet's own key, which every host's root and login user hold and every host authorizes: the
 * hosts reach each other over ssh, as a build host copying straight to a target needs.
 */
export function givePeerKey(hostDir: string, peerKey: string): void {
  for (const [home, uid] of [
    [join(hostDir, "home"), 0],
    [join(hostDir, "deploy-home"), DEPLOY_UID],
  ] as const) {
    const ssh = join(home, ".ssh");
    mkdirSync(ssh, { recursive: true, mode: 0o700 });
    copyFileSync(peerKey, join(ssh, "id_ed25519"));
    chmodSync(join(ssh, "id_ed25519"), 0o600);
    for (const path of [ssh, join(ssh, "id_ed25519")]) chownSync(path, uid, uid);
  }
  appendFileSync(join(hostDir, "etc", "authorized_keys"), readFileSync(`${peerKey}.pub`));
}

/** Every host's key, in the known_hosts of each host's root and login user. */
export function writePeerKnownHosts(hostDir: string, lines: string): void {
  for (const [home, uid] of [
    [join(hostDir, "home"), 0],
    [join(hostDir, "deploy-home"), DEPLOY_UID],
  ] as const) {
    const file = join(home, ".ssh", "known_hosts");
    writeFileSync(file, lines);
    chownSync(file, uid, uid);
  }
}
