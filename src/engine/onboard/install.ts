import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";
import { z } from "zod";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { discoverFleet, type Host, selectHost } from "../fleet/hosts.js";
import { hostNameSchema } from "../fleet/inventory.js";
import { operation } from "../hooks.js";
import { stateDir } from "../log.js";
import { runCommand } from "../process.js";
import { quoteShellWord } from "../remote/quote.js";
import { servedFlake } from "../trust.js";
import { gatherFacts } from "./facts.js";
import { type InstallCheck, installChecks } from "./install-checks.js";
import { knownHostsName, publicKeyOf, recordHostKey } from "./known-hosts.js";

export const installHostOptionsSchema = z.object({
  host: hostNameSchema.describe("its nixosConfigurations name"),
  disk: z.string().min(1).describe("the disk to erase, by its /dev/disk/by-id name"),
  target: z
    .string()
    .regex(
      /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9[][A-Za-z0-9_.:%[\]-]*$/,
      "an ssh target is address or user@address",
    )
    .optional()
    .describe("the installer's ssh address (default: the inventory's)"),
  port: z.number().int().min(1).max(65535).optional(),
  dryRun: z.boolean().optional().describe("default true"),
});
export type InstallHostOptions = z.infer<typeof installHostOptionsSchema> & { flake?: string };

export const installHostResultSchema = z.object({
  status: z
    .enum(["planned", "refused", "declined", "installed", "command-shown", "failed"])
    .describe(
      "planned: dry run; refused: a check failed, nothing done; declined: the typed disk did not match or nobody could type it; command-shown: nixos-anywhere is not installed, run the command shown",
    ),
  host: z.string(),
  target: z.string(),
  disk: z.string(),
  phases: z.array(z.enum(["kexec", "disko", "install", "reboot"])),
  checks: z.array(
    z.object({ check: z.string(), status: z.enum(["pass", "warn", "fail"]), detail: z.string() }),
  ),
  command: z.string().describe("the nixos-anywhere command line, as run or to run"),
  knownHostsFile: z
    .string()
    .optional()
    .describe("where the new host key was recorded, relative to the flake"),
  hostKey: z.string().optional().describe("the public host key generated for the machine"),
  extraFilesDir: z
    .string()
    .optional()
    .describe(
      "command-shown: the private directory holding the host key for --extra-files; delete it after the install",
    ),
  verified: z.boolean().optional().describe("the installed machine answered with the generated host key"),
  output: z.array(z.string()).optional().describe("nixos-anywhere's last lines"),
  summary: z.string(),
  next: z.string(),
});
export type InstallHostResult = z.infer<typeof installHostResultSchema>;

const INSTALL_TIMEOUT_MS = 4 * 3600_000;
const COMEBACK_TIMEOUT_MS = 300_000;

/** The by-id name of a disk, whether given bare or as its /dev/disk/by-id path. */
export const diskId = (disk: string): string => disk.replace(/^\/dev\/disk\/by-id\//, "");

function onPath(program: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** nixos-anywhere's arguments; EXTRA is where the host key waits to be copied to the new root. */
function nixosAnywhereArgs(
  flake: string,
  host: Host,
  phases: readonly string[],
  extraFiles: string,
): string[] {
  const args = ["--flake", `${flake}#${host.name}`, "--target-host", host.ssh.destination];
  if (host.ssh.port !== undefined) args.push("-p", String(host.ssh.port));
  if (host.ssh.identityFile) args.push("-i", host.ssh.identityFile);
  for (const option of host.ssh.options) args.push("--ssh-option", option);
  args.push("--extra-files", extraFiles, "--phases", phases.join(","));
  return args;
}

/**
 * install_host: installs NixOS on a machine booted into an installer (or any Linux, through kexec)
 * with nixos-anywhere. Every check runs first; a dry run stops there. Nothing touches a disk until
 * the user typed the disk's id back. The machine's ssh host key is made here, recorded in the
 * inventory's known_hosts and handed to nixos-anywhere (--extra-files), so the first deploy verifies
 * the machine instead of trusting whatever answers.
 */
export const installHost = operation<InstallHostOptions, InstallHostResult>(
  async (engine, options, hooks) => {
    const flake = servedFlake(engine, options.flake);
    const fleet = await discoverFleet(engine, { flake, signal: hooks.signal, selectors: [options.host] });
    const known = selectHost(fleet, options.host);
    const host: Host = {
      ...known,
      ssh: {
        ...known.ssh,
        destination: options.target ?? known.ssh.destination,
        port: options.target ? options.port : (options.port ?? known.ssh.port),
      },
    };
    const disk = diskId(options.disk);
    hooks.progress?.(`${host.name}: reading the machine's facts`);
    const gathered = await gatherFacts(engine, { name: host.name, host }, hooks.signal);
    const checks: InstallCheck[] = await installChecks(engine, {
      flake,
      host,
      disk,
      facts: gathered.facts,
      unreachable: gathered.reason,
      signal: hooks.signal,
    });
    type Phase = InstallHostResult["phases"][number];
    const phases: Phase[] = [
      ...(gathered.facts?.installer ? [] : ["kexec" as const]),
      "disko",
      "install",
      "reboot",
    ];
    const knownHostsFile = host.ssh.knownHostsFile;
    const base = {
      host: host.name,
      target: `${host.ssh.destination}${host.ssh.port ? `:${host.ssh.port}` : ""}`,
      disk,
      phases,
      checks,
      knownHostsFile: knownHostsFile ? relative(flake, knownHostsFile) : undefined,
    };
    const display = (extra: string) =>
      ["nixos-anywhere", ...nixosAnywhereArgs(flake, host, phases, extra)].map(quoteShellWord).join(" ");
    const failed = checks.filter((c) => c.status === "fail");
    if (failed.length)
      return {
        ...base,
        status: "refused",
        command: display("EXTRA_FILES_DIR"),
        summary: `${host.name}: not installed: ${failed.map((c) => `${c.check}: ${c.detail}`).join("; ")}`,
        next: "fix what the failed checks name, then call install_host again",
      };
    if (options.dryRun ?? true)
      return {
        ...base,
        status: "planned",
        command: display("EXTRA_FILES_DIR"),
        summary: `${host.name}: ready to install on ${disk} (phases ${phases.join(", ")}); every check passed`,
        next: `install with dryRun: false; the user will be asked to type ${disk} before any disk is touched`,
      };

    const typed = await hooks.ask?.(
      `Installing ${host.name} ERASES the disk ${disk} on ${base.target}. Type the disk id to go ahead:`,
    );
    if (typed === undefined || diskId(typed.trim()) !== disk)
      return {
        ...base,
        status: "declined",
        command: display("EXTRA_FILES_DIR"),
        summary:
          typed === undefined
            ? `${host.name}: not installed: nobody could be asked to type the disk id`
            : `${host.name}: not installed: the typed disk id does not match ${disk}`,
        next:
          typed === undefined
            ? "this client cannot ask the user to type the disk id; run `nix-deploy install-host` in a terminal"
            : "nothing was touched; call install_host again and type the disk id exactly",
      };

    // knownHostsFile is inside the flake: installChecks refused anything else.
    const hostsFile = knownHostsFile as string;
    const name = knownHostsName(host.ssh.destination, host.ssh.port);
    const runNow = onPath("nixos-anywhere", engine.env);
    // The key pair lives only in a private directory: a temporary one when nixos-anywhere runs now,
    // one under the state directory when the person runs the command later.
    const keyDir = runNow
      ? mkdtempSync(join(tmpdir(), "nix-deploy-install-"))
      : (() => {
          const dir = join(stateDir(engine.env), "install", `${host.name}-${Date.now()}`);
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          return dir;
        })();
    try {
      const sshDir = join(keyDir, "etc", "ssh");
      mkdirSync(sshDir, { recursive: true, mode: 0o755 });
      const keyFile = join(sshDir, "ssh_host_ed25519_key");
      const keygen = await runCommand("ssh-keygen", [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        `root@${host.name}`,
        "-f",
        keyFile,
      ]);
      if (keygen.exitCode !== 0)
        throw new UserError(
          `ssh-keygen failed: ${keygen.stderr.trim()}`,
          "install OpenSSH's ssh-keygen on this machine",
        );
      const hostKey = publicKeyOf(readFileSync(`${keyFile}.pub`, "utf8"));
      // Beside the installer's key until the new system answers: a failed install leaves both usable.
      recordHostKey(hostsFile, name, hostKey, false);
      const args = nixosAnywhereArgs(flake, host, phases, keyDir);
      const command = ["nixos-anywhere", ...args].map(quoteShellWord).join(" ");
      const recorded = { ...base, hostKey, command };
      if (!runNow)
        return {
          ...recorded,
          status: "command-shown",
          extraFilesDir: keyDir,
          summary: `${host.name}: nixos-anywhere is not installed here; its host key is recorded in ${base.knownHostsFile}`,
          next: `run the command (nix run github:nix-community/nixos-anywhere -- ...), then delete ${keyDir} and the installer's old key line for ${name} in ${base.knownHostsFile}`,
        };
      hooks.progress?.(`${host.name}: running nixos-anywhere (${phases.join(", ")})`);
      const run = await runCommand("nixos-anywhere", args, {
        timeoutMs: INSTALL_TIMEOUT_MS,
        signal: hooks.signal,
        env: engine.env,
      });
      const output = `${run.stdout}\n${run.stderr}`.trim().split("\n").slice(-20);
      if (run.exitCode !== 0)
        return {
          ...recorded,
          status: "failed",
          output,
          summary: `${host.name}: nixos-anywhere exited with ${run.exitCode}${run.timedOut ? " (timed out)" : ""}`,
          next: `read its output; ${base.knownHostsFile} holds both the installer's key and the new one, so either state of the machine can be reached`,
        };
      hooks.progress?.(`${host.name}: waiting for the installed system to answer with its new host key`);
      const verified = await answersWithKey(engine, host, name, hostKey, hooks.signal);
      if (verified) recordHostKey(hostsFile, name, hostKey, true);
      return {
        ...recorded,
        status: "installed",
        verified,
        output,
        summary: verified
          ? `${host.name}: installed on ${disk}; it answered with the generated host key, now the only one recorded for ${name}`
          : `${host.name}: nixos-anywhere finished, but the machine did not answer with the new host key within ${COMEBACK_TIMEOUT_MS / 1000} s`,
        next: verified
          ? `deploy to ${host.name}: ssh verifies it with the recorded key`
          : `wait for ${host.name} to boot, then deploy; ${base.knownHostsFile} still holds the installer's key beside the new one`,
      };
    } finally {
      if (runNow) rmSync(keyDir, { recursive: true, force: true });
    }
  },
);

/** Polls the machine over fresh connections that accept only the new key, for a bounded time. */
async function answersWithKey(
  engine: Engine,
  host: Host,
  name: string,
  hostKey: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-hostkey-"));
  try {
    const onlyNewKey = join(dir, "known_hosts");
    writeFileSync(onlyNewKey, `${name} ${hostKey}\n`, { mode: 0o600 });
    const ssh = { ...host.ssh, knownHostsFile: onlyNewKey };
    const deadline = Date.now() + COMEBACK_TIMEOUT_MS;
    while (!signal?.aborted) {
      const result = await engine.remote.run(ssh, ["true"], { multiplex: false, timeoutMs: 20_000, signal });
      if (result.exitCode === 0) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
