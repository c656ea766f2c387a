/**
 * The simulated NixOS fleet: each host is a real sshd on 127.0.0.1, started in its own mount and pid
 * namespace where /nix, /run and /usr/local/bin are the host's own. `nix copy --to ssh://` really
 * copies into that host's store, its system profile and generations are real, and the fixture's
 * switch-to-configuration records units for a stand-in systemctl. Only the kernel and systemd are
 * not there.
 *
 * Every process started here is stopped by its pid in stop(), also when a test fails.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import {
  DEPLOY_USER,
  givePeerKey,
  hostNixConf,
  type SimHostAccess,
  writeHostAccounts,
  writePeerKnownHosts,
} from "./accounts.js";
import { HARDWARE, HARDWARE_MOUNTS, prepareHardware, setUpHomeManager } from "./hardware.js";

const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixture");
export const FLEET_HOSTS = ["p620", "p510", "razer", "samsung"] as const;

/**
 * Names of light hosts for fleet-size runs: n01, n02, ... (zero-padded to two digits, or more for
 * larger fleets). startFleet adds any host it is asked for beyond FLEET_HOSTS to the fixture flake
 * and the inventory as a light host: an sshd and a small system, no hardware stand-ins.
 */
export function lightHostNames(count: number, prefix = "n"): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, "0")}`);
}

/**
 * Elements of the list the fixture nixpkgs computes once per evaluator process with
 * `heavyEvaluation` (nixpkgs/weight.nix): about 1 s of CPU and 200 MB in one `nix eval` on a
 * 2-core machine with Nix 2.8, like importing a small nixpkgs.
 */
export const HEAVY_EVALUATION_ELEMENTS = 500_000;

/** Why the fleet cannot run here, or undefined when it can: root, nix, sshd and unshare are needed. */
export function fleetUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0)
    return "the simulated fleet needs root (mount namespaces, a nix store per host)";
  for (const [program, args] of [
    ["nix", ["--version"]],
    ["/usr/sbin/sshd", ["-V"]],
    ["unshare", ["--version"]],
    ["ssh-keygen", ["-?"]],
    ["sudo", ["-V"]],
    ["openssl", ["version"]],
  ] as const) {
    const result = spawnSync(program, args, { stdio: "ignore" });
    if (result.error) return `${program} is missing (apt-get install nix-bin openssh-server sudo openssl)`;
  }
  return undefined;
}

/**
 * For `describe.skipIf(...)`: the reason to skip fleet tests on this machine, printed once, or
 * undefined. On CI (CI=true) the fleet must run, so a missing piece is an error there, not a skip.
 */
export function skipFleetReason(): string | undefined {
  const reason = fleetUnavailableReason();
  if (reason && process.env.CI === "true") throw new Error(`CI must run the fleet tests, but ${reason}`);
  if (reason) console.warn(`skipping simulated-fleet tests: ${reason}`);
  return reason;
}

export interface SimHost {
  name: string;
  port: number;
  dir: string;
  /** Target of the host's initial generation; "" on an installer, which runs no system of its own. */
  initialSystem: string;
  /** Booted into a NixOS installer: not in the flake, no /run/current-system. */
  installer?: boolean;
  /** Store paths of the stand-in home-manager generations of HOME_USER, oldest first. */
  homeGenerations?: string[];
  /** Its login user, sshd's root login, sudo and Nix trust (accounts.ts). */
  access: SimHostAccess;
  /** Account files bind-mounted over the machine's inside the host. */
  mounts: Array<[string, string]>;
  /** pid of `unshare`; of the init of the host's pid namespace (killing it ends them all); of the nsenter running sshd. */
  unsharePid?: number;
  initPid?: number;
  nsenterPid?: number;
}

export interface SimFleet {
  dir: string;
  flakeDir: string;
  nixpkgsDir: string;
  clientKey: string;
  knownHosts: string;
  hosts: Map<string, SimHost>;
  /** The fleet's binary cache (startFleet's `cache`): a file:// store every host can read. */
  cache?: { url: string; dir: string };
  /** Environment for every process that talks to the fleet: nix settings, state dir, ssh control dir. */
  env: Record<string, string>;
  /** ssh options that reach a host as root with the deployer's key (before `root@127.0.0.1`). */
  sshOptions(name: string): string[];
  /** The host's /run as seen from outside the host: its supervisor and fixture files, readable with sshd down. */
  runDir(name: string): string;
  /**
   * Every switch of the host's /run/current-system, by the host's own clock (seconds since boot), as
   * the fixture's switch-to-configuration records them: how long the host ran a system is measured
   * on the host, not from the deployer.
   */
  switches(name: string): Array<{ atSec: number; system: string }>;
  /**
   * Runs a shell script on a host as root: over ssh with the deployer's key, or, on a host that
   * refuses root logins or is the deployer's own machine, by entering its namespaces.
   */
  onHost(name: string, script: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Kills the host's sshd and its sessions (connections drop); the machine and its processes run on. */
  stopHost(name: string): Promise<void>;
  /** Starts the host's sshd again, on the same port. */
  startHost(name: string): Promise<void>;
  /**
   * The command prefix that runs a program inside the host's namespaces, as a process of that
   * machine (its /nix, /run, accounts): how a test runs the deployer on a `local` host.
   */
  inHost(name: string): string[];
  /** Rewrites hosts/NAME.nix of the fleet flake (not committed: call commit()). */
  editHost(name: string, edit: (text: string) => string): void;
  /** Commits the fleet flake's working tree (git-tracked files are what a flake build sees). */
  commit(message: string): Promise<void>;
  stop(): Promise<void>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: "nix-deploy test",
  GIT_AUTHOR_EMAIL: "test@nix-deploy.invalid",
  GIT_COMMITTER_NAME: "nix-deploy test",
  GIT_COMMITTER_EMAIL: "test@nix-deploy.invalid",
};

/**
 * The environment of every process a test starts, with its files under `dir`: nix settings, the
 * state and ssh control directories, a git identity.
 */
export function testEnv(dir: string): Record<string, string> {
  const registry = join(dir, "flake-registry.json");
  writeFileSync(registry, JSON.stringify({ flakes: [], version: 2 }));
  return {
    // No binary cache (nothing to reach), no global registry download, no sandbox: builders are /bin/sh.
    NIX_CONFIG: `experimental-features = nix-command flakes\nsubstituters =\nflake-registry = ${registry}\nsandbox = false\nwarn-dirty = false`,
    NIX_REMOTE: "local",
    XDG_STATE_HOME: join(dir, "state"),
    NIX_DEPLOY_SSH_CONTROL_DIR: join(dir, "ssh"),
    // The deployer's home: its ~/.ssh holds the key and known_hosts the inventory names, the one
    // place outside the flake an inventory may point ssh at.
    HOME: join(dir, "home"),
    ...GIT_ENV,
  };
}

/**
 * Starts the fleet. `systemd: true` makes its hosts systemd machines as far as a deployer can tell:
 * /run/systemd/system exists, and the stand-in systemd-run in /usr/local/bin starts transient units.
 * `installers` are extra machines booted into a NixOS installer, in the inventory (with the flake's
 * own known_hosts file, which holds the installer's key) but not in the flake.
 */
export async function startFleet(
  options: {
    hosts?: readonly string[];
    systemd?: boolean;
    installers?: readonly string[];
    access?: Record<string, SimHostAccess>;
    /**
     * Makes evaluating the fixture flake cost real work, once per evaluator process and shared by
     * every host evaluated in it (about 1 s of CPU and 200 MB, like a small nixpkgs): for the
     * fleet-size benchmark. Off by default, where an evaluation costs next to nothing.
     */
    heavyEvaluation?: boolean;
    /**
     * A binary cache directory under the fleet's, visible inside every host: the hosts named in
     * `trustedBy` (default all) list it among their substituters and trust `publicKey`.
     */
    cache?: { publicKey?: string; trustedBy?: readonly string[] };
  } = {},
): Promise<SimFleet> {
  const names = options.hosts ?? FLEET_HOSTS;
  const generated = names.filter((name) => !(FLEET_HOSTS as readonly string[]).includes(name));
  for (const name of generated)
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name))
      throw new Error(
        `a generated host's name must be lower-case letters, digits and -, not ${JSON.stringify(name)}`,
      );
  const installers = options.installers ?? [];
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-fleet-"));
  // Hosts' login users other than root reach their own files below it (sshd reads authorized_keys
  // as the user); the deployer's secrets stay in 0700 directories inside.
  chmodSync(dir, 0o711);
  const system = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";
  const env = testEnv(dir);
  const newKey = (file: string, comment: string) =>
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  const run = (file: string, args: string[], cwd?: string) =>
    execa(file, args, { cwd, env: { ...process.env, ...env } });

  const hosts = new Map<string, SimHost>();
  const cacheDir = join(dir, "cache");
  const fleet: SimFleet = {
    dir,
    ...(options.cache ? { cache: { url: `file://${cacheDir}`, dir: cacheDir } } : {}),
    flakeDir: join(dir, "fleet"),
    nixpkgsDir: join(dir, "nixpkgs"),
    clientKey: join(dir, "home", ".ssh", "id_ed25519"),
    knownHosts: join(dir, "home", ".ssh", "known_hosts"),
    hosts,
    env,
    sshOptions: (name) => {
      const host = mustGet(hosts, name);
      const knownHosts = host.installer ? join(fleet.flakeDir, "known_hosts") : fleet.knownHosts;
      return [
        "-p",
        String(host.port),
        "-i",
        fleet.clientKey,
        "-o",
        "BatchMode=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
      ];
    },
    runDir: (name) => join(mustGet(hosts, name).dir, "run"),
    switches: (name) => {
      const log = join(mustGet(hosts, name).dir, "run", "nix-deploy-sim", "current-system.log");
      return readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => {
          const [at = "", system = ""] = line.split(" ");
          return { atSec: Number(at), system };
        });
    },
    onHost: async (name, script) => {
      const host = mustGet(hosts, name);
      const direct = host.access.permitRootLogin === false || host.access.local;
      const result = direct
        ? await execa(fleet.inHost(name)[0] as string, [...fleet.inHost(name).slice(1), "sh", "-c", script], {
            reject: false,
            env: { ...process.env, PATH: HOST_PATH },
          })
        : await execa("ssh", [...fleet.sshOptions(name), "root@127.0.0.1", script], {
            reject: false,
          });
      return {
        exitCode: result.exitCode ?? -1,
        stdout: String(result.stdout),
        stderr: String(result.stderr),
      };
    },
    inHost: (name) => ["nsenter", "-t", String(mustGet(hosts, name).initPid), "-m", "-p", "-u", "--"],
    stopHost: async (name) => stopSshd(mustGet(hosts, name)),
    startHost: async (name) => startSshd(mustGet(hosts, name)),
    editHost: (name, edit) => {
      const file = join(fleet.flakeDir, "hosts", `${name}.nix`);
      const before = readFileSync(file, "utf8");
      const after = edit(before);
      if (after === before) throw new Error(`editing hosts/${name}.nix changed nothing`);
      writeFileSync(file, after);
    },
    commit: async (message) => {
      await run("git", ["add", "-A"], fleet.flakeDir);
      await run("git", ["commit", "-q", "--allow-empty", "-m", message], fleet.flakeDir);
    },
    stop: async () => {
      const pids = [...hosts.values()].map((host) => host.unsharePid);
      for (const host of hosts.values()) killHost(host);
      await Promise.all(pids.map((pid) => (pid ? waitForExit(pid) : undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // If the test process dies without stop(), the hosts must not outlive it.
  const killOnExit = () => {
    for (const host of hosts.values()) killHost(host);
  };
  process.once("exit", killOnExit);

  try {
    // The fixture nixpkgs and the fleet flake, both git repositories as real flakes are.
    cpSync(join(FIXTURE, "nixpkgs"), fleet.nixpkgsDir, { recursive: true });
    fillPlaceholders(join(fleet.nixpkgsDir, "flake.nix"), { SYSTEM: system });
    fillPlaceholders(join(fleet.nixpkgsDir, "weight.nix"), {
      ELEMENTS: String(options.heavyEvaluation ? HEAVY_EVALUATION_ELEMENTS : 0),
    });
    await run("git", ["init", "-q", "-b", "main"], fleet.nixpkgsDir);
    await run("git", ["add", "-A"], fleet.nixpkgsDir);
    await run("git", ["commit", "-q", "-m", "fixture nixpkgs"], fleet.nixpkgsDir);

    cpSync(join(FIXTURE, "fleet"), fleet.flakeDir, { recursive: true });
    fillPlaceholders(join(fleet.flakeDir, "flake.nix"), {
      SYSTEM: system,
      NIXPKGS_URL: `git+file://${fleet.nixpkgsDir}`,
    });
    addLightHosts(fleet.flakeDir, generated);
    await run("git", ["init", "-q", "-b", "main"], fleet.flakeDir);
    await run("git", ["add", "-A"], fleet.flakeDir);
    await run("nix", ["flake", "lock"], fleet.flakeDir);

    if (fleet.cache) mkdirSync(fleet.cache.dir, { recursive: true });
    mkdirSync(dirname(fleet.clientKey), { recursive: true, mode: 0o700 });
    await newKey(fleet.clientKey, "nix-deploy-deployer");
    const peerKey = join(dir, "peer", "id_ed25519");
    mkdirSync(dirname(peerKey), { recursive: true, mode: 0o700 });
    await newKey(peerKey, "nix-deploy-fleet-peer");

    // Every host's first generation, built once and copied into each host's own store.
    const installables = names.map(
      (n) => `${fleet.flakeDir}#nixosConfigurations.${n}.config.system.build.toplevel`,
    );
    const built = JSON.parse(
      (await run("nix", ["build", "--no-link", "--json", ...installables])).stdout,
    ) as Array<{ outputs: { out: string } }>;

    const knownHostLines: string[] = [];
    const installerKnownHosts: string[] = [];
    const inventoryHosts: Record<string, unknown> = {};
    await Promise.all(
      [...names, ...installers].map(async (name) => {
        const installer = installers.includes(name);
        const hostDir = join(dir, "hosts", name);
        for (const sub of ["root/nix/store", "root/nix/var/nix/profiles", "run", "bin", "etc", "home"])
          mkdirSync(join(hostDir, sub), { recursive: true });
        if (options.systemd) mkdirSync(join(hostDir, "run", "systemd", "system"), { recursive: true });
        cpSync(join(FIXTURE, "host-bin"), join(hostDir, "bin"), { recursive: true });
        // The sh a command line names is bash, as on NixOS (its /bin/sh), where it can be had.
        if (existsSync("/bin/bash")) symlinkSync("/bin/bash", join(hostDir, "bin", "sh"));
        prepareHardware(hostDir, installer ? "installer" : name, installer);
        // The host's own nix.conf, as NixOS generates one: ssh sessions do not carry the deployer's
        // NIX_CONFIG, and the fixture's builders are /bin/sh, which a build sandbox does not have.
        const access = withCache(options.access?.[name] ?? {}, name, fleet.cache?.url, options.cache);
        mkdirSync(join(hostDir, "etc", "nix"), { recursive: true });
        writeFileSync(join(hostDir, "etc", "nix", "nix.conf"), hostNixConf(access));
        const mounts = writeHostAccounts(hostDir, access);
        // `nix build --json` does not keep the order of its installables: match by name.
        const initialSystem = installer
          ? ""
          : built.map((b) => b.outputs.out).find((out) => out.endsWith(`-nixos-system-${name}-fixture`));
        if (initialSystem === undefined) throw new Error(`nix build printed no system for ${name}`);
        if (initialSystem)
          await run("nix", [
            "copy",
            "--no-check-sigs",
            "--to",
            `local?root=${join(hostDir, "root")}`,
            initialSystem,
          ]);
        await newKey(hostKeyFile(hostDir, installer), `host-${name}`);
        writeFileSync(join(hostDir, "etc", "authorized_keys"), readFileSync(`${fleet.clientKey}.pub`));
        givePeerKey(hostDir, peerKey);
        const host: SimHost = { name, port: 0, dir: hostDir, initialSystem, installer, access, mounts };
        hosts.set(name, host);
        await bootHost(host);
        await startSshd(host);
        if (HARDWARE[name]?.homeManager && host.initPid)
          host.homeGenerations = await setUpHomeManager(hostDir, host.initPid, system, run);
        const hostKey = readFileSync(`${hostKeyFile(hostDir, installer)}.pub`, "utf8")
          .split(" ")
          .slice(0, 2)
          .join(" ");
        (installer ? installerKnownHosts : knownHostLines).push(`[127.0.0.1]:${host.port} ${hostKey}`);
        inventoryHosts[name] = access.local
          ? { local: true, tags: tagsOf(name), criticalServices: ["sshd.service"] }
          : {
              target: `${access.login ?? "root"}@127.0.0.1`,
              port: host.port,
              tags: installer ? ["new"] : tagsOf(name),
              criticalServices: ["sshd.service"],
              // The installer's key was checked on its console and recorded in the flake, where
              // install_host records the installed machine's key too.
              ...(installer ? { knownHostsFile: "known_hosts" } : {}),
            };
      }),
    );
    // Hosts of the flake that this fleet does not start still point at loopback (a closed port), so
    // no test ever looks up or contacts another address.
    for (const name of FLEET_HOSTS.filter((n) => !names.includes(n))) {
      inventoryHosts[name] = {
        target: "root@127.0.0.1",
        port: await freePort(),
        tags: tagsOf(name),
        criticalServices: ["sshd.service"],
      };
    }
    writeFileSync(fleet.knownHosts, `${knownHostLines.join("\n")}\n`);
    if (installers.length)
      writeFileSync(join(fleet.flakeDir, "known_hosts"), `${installerKnownHosts.join("\n")}\n`);
    for (const host of hosts.values()) writePeerKnownHosts(host.dir, `${knownHostLines.join("\n")}\n`);
    writeFileSync(
      join(fleet.flakeDir, "nix-deploy.json"),
      `${JSON.stringify({ defaults: { identityFile: fleet.clientKey, knownHostsFile: fleet.knownHosts }, hosts: inventoryHosts }, null, 2)}\n`,
    );
    await fleet.commit("fixture fleet");
    return fleet;
  } catch (error) {
    await fleet.stop();
    throw error;
  }
}

/**
 * Adds light hosts to the fleet flake: hosts/NAME.nix (an sshd and a few packages, as samsung) and
 * one `NAME = host "NAME";` line each in flake.nix, where the fixture lists its hosts.
 */
function addLightHosts(flakeDir: string, names: readonly string[]): void {
  if (names.length === 0) return;
  const flakeFile = join(flakeDir, "flake.nix");
  const flake = readFileSync(flakeFile, "utf8");
  const anchor = '        samsung = host "samsung";\n';
  if (!flake.includes(anchor)) throw new Error("the fixture flake.nix no longer lists samsung as expected");
  writeFileSync(
    flakeFile,
    flake.replace(anchor, `${anchor}${names.map((name) => `        ${name} = host "${name}";\n`).join("")}`),
  );
  for (const name of names)
    writeFileSync(
      join(flakeDir, "hosts", `${name}.nix`),
      [
        `# ${name}: a light host of a fleet-size run`,
        "{",
        '  packages = [ "htop" "linux" "systemd" ];',
        "  services = {",
        '    sshd = { package = "openssh"; serviceConfig = { Restart = "always"; }; };',
        "  };",
        "  firewall = { allowedTCPPorts = [ 22 ]; };",
        "  activation = { fail = false; failedUnits = [ ]; };",
        "}",
        "",
      ].join("\n"),
    );
}

/** A host's access with the fleet's cache among its substituters and its key trusted, if it trusts it. */
function withCache(
  access: SimHostAccess,
  name: string,
  url: string | undefined,
  cache: { publicKey?: string; trustedBy?: readonly string[] } | undefined,
): SimHostAccess {
  if (!url || !cache || (cache.trustedBy && !cache.trustedBy.includes(name))) return access;
  return {
    ...access,
    substituters: [...(access.substituters ?? []), url],
    trustedPublicKeys: [...(access.trustedPublicKeys ?? []), ...(cache.publicKey ? [cache.publicKey] : [])],
  };
}

/** An installer's sshd reads its key from its own /etc/ssh, where an installation replaces it. */
function hostKeyFile(hostDir: string, installer: boolean): string {
  return installer
    ? join(hostDir, "etc-upper", "ssh", "ssh_host_ed25519_key")
    : join(hostDir, "etc", "ssh_host_ed25519_key");
}

function tagsOf(name: string): string[] {
  if (!(FLEET_HOSTS as readonly string[]).includes(name)) return ["light"];
  return name === "p510" ? ["server"] : name === "p620" ? ["workstation", "server"] : ["laptop"];
}

/**
 * Boots a host: a mount and pid namespace whose init (`sleep infinity`) holds the host's own /nix,
 * /run, /usr/local/bin and /proc, with its first generation activated. sshd runs beside it (startSshd), so
 * that sshd can die while the machine, and anything it runs such as an activation watchdog, lives on.
 */
async function bootHost(host: SimHost): Promise<void> {
  // The mount point of the host's /etc/nix; an empty directory where the machine has no Nix config.
  mkdirSync("/etc/nix", { recursive: true });
  const booted = join(host.dir, "booted");
  rmSync(booted, { force: true });
  const script = [
    'mount --bind "$1/root/nix" /nix',
    'mount --bind "$1/run" /run',
    'mount --bind "$1/bin" /usr/local/bin',
    ...HARDWARE_MOUNTS,
    'mount --bind "$1/etc/nix" /etc/nix',
    // Root's own home: the machine's /root may hold shell start-up files (pyenv, cargo) that a
    // NixOS host does not have, and that slow down or lock up every ssh session.
    'mount --bind "$1/home" /root',
    // Its own hostname, as each machine has: what `plan` compares a host's name with.
    'hostname "$3"',
    // The host's accounts (a login user with sudo) over the machine's files: accounts.ts.
    ...host.mounts.map(([source, target]) => `mount --bind ${shellWord(source)} ${shellWord(target)}`),
    "mkdir -p /run/sshd && chmod 0755 /run/sshd",
    // As NixOS makes them for each user: where nix-env keeps the login user's own profiles.
    `mkdir -p /nix/var/nix/profiles/per-user/${DEPLOY_USER} /nix/var/nix/gcroots/per-user/${DEPLOY_USER}`,
    `chown ${DEPLOY_USER} /nix/var/nix/profiles/per-user/${DEPLOY_USER} /nix/var/nix/gcroots/per-user/${DEPLOY_USER}`,
    // The host's nix-daemon, through which a login user other than root reaches the store, with
    // the trust of the host's nix.conf. It dies with the host's pid namespace.
    '{ env -u NIX_REMOTE nix-daemon > "$1/nix-daemon.log" 2>&1 & }',
    // An installer runs no system of its own: no profile, no /run/current-system.
    'if [ -n "$2" ]; then nix-env -p /nix/var/nix/profiles/system --set "$2" && "$2/bin/switch-to-configuration" switch >/dev/null; fi',
    'touch "$1/booted"',
    "exec sleep infinity",
  ].join(" && ");
  const logFd = openSync(join(host.dir, "boot.log"), "a", 0o600);
  const child = spawn(
    "unshare",
    [
      "--mount",
      "--pid",
      "--fork",
      "--kill-child",
      // The host's own /proc, as on a machine: a pid read inside the host names a process there.
      "--mount-proc",
      "--uts",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      "sh",
      host.dir,
      host.initialSystem,
      host.name,
    ],
    { stdio: ["ignore", logFd, logFd], env: { ...process.env, PATH: HOST_PATH } },
  );
  closeSync(logFd);
  host.unsharePid = child.pid;
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  while (!existsSync(booted)) {
    if (exited || Date.now() > deadline) {
      killHost(host);
      throw new Error(
        `host ${host.name} did not boot:\n${readFileSync(join(host.dir, "boot.log"), "utf8").slice(-2000)}`,
      );
    }
    await sleep(20);
  }
  host.initPid = childPid(child.pid as number);
}

/** Starts the host's sshd inside its namespaces; a restarted sshd keeps its port. */
async function startSshd(host: SimHost): Promise<void> {
  if (!host.initPid) throw new Error(`host ${host.name} is not booted`);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0 || host.port === 0) host.port = await freePort();
    writeFileSync(
      join(host.dir, "etc", "sshd_config"),
      [
        `Port ${host.port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${host.installer ? "/etc/ssh/ssh_host_ed25519_key" : join(host.dir, "etc", "ssh_host_ed25519_key")}`,
        `AuthorizedKeysFile ${join(host.dir, "etc", "authorized_keys")}`,
        `PermitRootLogin ${host.access.permitRootLogin === false ? "no" : "prohibit-password"}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PidFile none",
        "MaxStartups 100",
        "MaxSessions 50",
        // As on NixOS, where a root session has it: what an activation must be handed explicitly
        // where it does not inherit the session.
        "SetEnv LOCALE_ARCHIVE=/run/current-system/sw/lib/locale/locale-archive",
        "",
      ].join("\n"),
    );
    const logFile = join(host.dir, "sshd.log");
    const logFd = openSync(logFile, "a", 0o600);
    const child = spawn(
      "nsenter",
      [
        "-t",
        String(host.initPid),
        "-m",
        "-p",
        "--",
        "/usr/sbin/sshd",
        "-D",
        "-e",
        "-f",
        join(host.dir, "etc", "sshd_config"),
      ],
      { stdio: ["ignore", logFd, logFd], env: { ...process.env, PATH: HOST_PATH } },
    );
    closeSync(logFd);
    host.nsenterPid = child.pid;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (await waitForSsh(host.port, exited)) return;
    stopSshd(host);
    const log = readFileSync(logFile, "utf8");
    if (!/Address already in use|Cannot bind/.test(log))
      throw new Error(`sshd of ${host.name} did not start:\n${log.slice(-2000)}`);
  }
  throw new Error(`host ${host.name}: no free port after 5 attempts`);
}

/** Kills every sshd of the host (listener and sessions): connections drop, the machine runs on. */
function stopSshd(host: SimHost): void {
  for (const pid of processesInHost(host)) {
    if (readProc(pid, "comm").trim() === "sshd") kill(pid);
  }
  if (host.nsenterPid) kill(host.nsenterPid);
  host.nsenterPid = undefined;
}

/** Ends the whole host: its init dies, and the kernel kills every process of its pid namespace. */
function killHost(host: SimHost): void {
  for (const pid of [
    host.initPid ?? (host.unsharePid ? childPid(host.unsharePid) : undefined),
    host.unsharePid,
    host.nsenterPid,
  ]) {
    if (pid) kill(pid);
  }
  host.initPid = undefined;
  host.unsharePid = undefined;
  host.nsenterPid = undefined;
}

/** pids whose pid namespace is the host's. */
function processesInHost(host: SimHost): number[] {
  if (!host.initPid) return [];
  let namespace: string;
  try {
    namespace = readlinkSync(`/proc/${host.initPid}/ns/pid`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === namespace) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function childPid(pid: number): number | undefined {
  const children = readProc(pid, `task/${pid}/children`).trim().split(/\s+/);
  return children[0] ? Number(children[0]) : undefined;
}

async function waitForExit(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] === "Z")
      return;
    await sleep(20);
  }
}

/** True once the port greets with an SSH banner; false if the process exits first or 15 s pass. */
async function waitForSsh(port: number, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !gone) {
    const banner = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      let data = "";
      socket.setTimeout(1000);
      socket.on("data", (chunk) => {
        data += chunk.toString();
        if (data.includes("\n")) socket.end();
      });
      socket.on("close", () => resolve(data));
      socket.on("timeout", () => socket.destroy());
      socket.on("error", () => resolve(""));
    });
    if (banner.startsWith("SSH-")) return true;
    await sleep(30);
  }
  return false;
}

/** A loopback port nothing listens on: taken from the kernel, then released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A single-quoted shell word, for the paths of the boot script (the fleet's own temporary paths). */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function fillPlaceholders(file: string, values: Record<string, string>): void {
  let text = readFileSync(file, "utf8");
  for (const [key, value] of Object.entries(values)) text = text.replaceAll(`@${key}@`, value);
  writeFileSync(file, text);
  chmodSync(file, 0o644);
}

function mustGet<K, V>(map: Map<K, V>, key: K): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`no host ${String(key)} in the simulated fleet`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
