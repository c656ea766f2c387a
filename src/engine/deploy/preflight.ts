import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Engine } from "../engine.js";
import { describeError } from "../errors.js";
import { discoverFleet, type Host, selectHosts } from "../fleet/hosts.js";
import { operation } from "../hooks.js";
import { hostCommand } from "../host/scripts.js";
import { hostKeyChecks, secretToolsChecks, secretToolsOf } from "../keys/secret-tools.js";
import { stateDir } from "../log.js";
import { mapLimit } from "../process.js";
import { connectionFailureReason } from "../remote/ssh.js";
import { checkSchema, checkStatusSchema, hostSelectorAllByDefault } from "../schemas.js";
import { processAlive, readJson } from "../state.js";
import { accessChecks, publicKeyOf } from "./access-checks.js";
import { derivationOf } from "./build.js";
import { cacheSecretKey, cacheTrustChecks, parseNixSettings } from "./cache.js";
import type { LockHolder } from "./host-lock.js";

const preflightCheckSchema = checkSchema.extend({ remedy: z.string().optional() });
type Check = z.infer<typeof preflightCheckSchema>;

export const preflightOptionsSchema = z.object({
  hosts: hostSelectorAllByDefault,
  minFreeGiB: z
    .number()
    .positive()
    .optional()
    .describe("free space needed in /nix, here and on each host (default 2)"),
});
export type PreflightOptions = z.infer<typeof preflightOptionsSchema> & { flake?: string };

export const preflightResultSchema = z.object({
  status: checkStatusSchema,
  summary: z.string(),
  flake: z.array(preflightCheckSchema),
  hosts: z.array(
    z.object({ host: z.string(), status: checkStatusSchema, checks: z.array(preflightCheckSchema) }),
  ),
});
export type PreflightResult = z.infer<typeof preflightResultSchema>;

const worst = (checks: Check[]): Check["status"] =>
  checks.some((c) => c.status === "fail")
    ? "fail"
    : checks.some((c) => c.status === "warn")
      ? "warn"
      : "pass";

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/**
 * Everything that can be known before a deployment starts, as a checklist: a failure names its
 * remedy; an unreachable host is a failed check, not an error.
 */
export const preflight = operation<PreflightOptions, PreflightResult>(async (engine, options, hooks) => {
  const fleet = await discoverFleet(engine, { flake: options.flake, signal: hooks.signal });
  const hosts = selectHosts(fleet, options.hosts ?? ["all"]);
  const minFree = (options.minFreeGiB ?? 2) * 1024 ** 3;
  const secretTools = secretToolsOf(fleet.flake);
  const flakeChecks = [
    await gitCheck(fleet.flake),
    await localSpaceCheck(minFree),
    ...secretToolsChecks(secretTools),
  ];
  const hostResults = await mapLimit(hosts, engine.parallelism, async (host) => {
    const checks = [
      await evaluationCheck(engine, fleet.flake, host, hooks.signal),
      ...(await remoteChecks(engine, host, minFree, hooks.signal)),
      ...(await hostKeyChecks(engine, host, secretTools, hooks.signal)),
      lockCheck(host, engine.env),
    ];
    return { host: host.name, status: worst(checks), checks };
  });
  const status = worst([...flakeChecks, ...hostResults.flatMap((h) => h.checks)]);
  const failing = hostResults.filter((h) => h.status === "fail").map((h) => h.host);
  return {
    status,
    summary:
      status === "pass"
        ? `all checks pass for ${hosts.length} host(s)`
        : `${status === "fail" ? "failed" : "warnings"}${failing.length ? `; failing hosts: ${failing.join(", ")}` : ""}`,
    flake: flakeChecks,
    hosts: hostResults,
  };
});

async function gitCheck(flake: string): Promise<Check> {
  try {
    // Loaded when first used: the server's start (and its tools/list answer) should not wait for it.
    const { simpleGit } = await import("simple-git");
    const git = simpleGit(flake);
    if (!(await git.checkIsRepo())) {
      return {
        check: "git",
        status: "warn",
        detail: "the flake is not a git repository",
        remedy: "git init and commit: deployments are then reproducible",
      };
    }
    const status = await git.status();
    const untracked = status.not_added;
    const changed = status.files.map((f) => f.path).filter((p) => !untracked.includes(p));
    if (untracked.length) {
      return {
        check: "git",
        status: "warn",
        detail: `untracked files, which a flake build ignores: ${untracked.slice(0, 10).join(", ")}`,
        remedy: "git add them if the configuration needs them",
      };
    }
    if (changed.length)
      return {
        check: "git",
        status: "warn",
        detail: `uncommitted changes: ${changed.slice(0, 10).join(", ")}`,
        remedy: "commit them, so the deployed state has a revision",
      };
    return { check: "git", status: "pass", detail: "clean working tree" };
  } catch (error) {
    return { check: "git", status: "warn", detail: `git status failed: ${(error as Error).message}` };
  }
}

async function localSpaceCheck(minFree: number): Promise<Check> {
  try {
    const fs = await statfs("/nix");
    const free = fs.bavail * fs.bsize;
    return free >= minFree
      ? { check: "local disk", status: "pass", detail: `${gib(free)} free in /nix` }
      : {
          check: "local disk",
          status: "fail",
          detail: `${gib(free)} free in /nix, below ${gib(minFree)}`,
          remedy: "nix-collect-garbage -d",
        };
  } catch {
    return { check: "local disk", status: "warn", detail: "/nix not found on this machine" };
  }
}

async function evaluationCheck(
  engine: Engine,
  flake: string,
  host: Host,
  signal?: AbortSignal,
): Promise<Check> {
  if (!host.inFlake)
    return {
      check: "evaluates",
      status: "fail",
      detail: `no nixosConfigurations.${host.name} in the flake`,
      remedy: "add it, or drop the host from nix-deploy.json",
    };
  try {
    await derivationOf(engine, flake, host.name, signal);
    return { check: "evaluates", status: "pass", detail: "the system evaluates" };
  } catch (error) {
    // The error's first lines say what failed and where; a checklist entry stays short.
    const detail = describeError(error).split("\n").slice(0, 7).join("\n");
    return { check: "evaluates", status: "fail", detail, remedy: "fix the evaluation error" };
  }
}

async function remoteChecks(
  engine: Engine,
  host: Host,
  minFree: number,
  signal?: AbortSignal,
): Promise<Check[]> {
  const result = await engine
    .connect(host)
    .run(hostCommand("preflight", "nix-deploy-preflight", host.cache ? ["settings"] : []), {
      timeoutMs: 20_000,
      signal,
    });
  if (result.connectionFailed) {
    return [
      {
        check: "ssh",
        status: "fail",
        detail: connectionFailureReason(result),
        remedy: `make ssh ${host.ssh.destination} work without a password (BatchMode)`,
      },
    ];
  }
  const [version = "", disk = "", ...settings] = result.stdout.split("\n");
  const checks: Check[] = [
    host.local
      ? { check: "ssh", status: "pass", detail: "this machine: reached without ssh" }
      : { check: "ssh", status: "pass", detail: `answers as ${host.ssh.destination}` },
  ];
  checks.push(
    version.startsWith("nix")
      ? { check: "nix", status: "pass", detail: version.trim() }
      : { check: "nix", status: "fail", detail: "no nix on the host's PATH", remedy: "is it a NixOS host?" },
  );
  const available = Number(disk.trim().split(/\s+/)[3]) * 1024;
  if (Number.isFinite(available)) {
    checks.push(
      available >= minFree
        ? { check: "host disk", status: "pass", detail: `${gib(available)} free in /nix` }
        : {
            check: "host disk",
            status: "fail",
            detail: `${gib(available)} free in /nix, below ${gib(minFree)}`,
            remedy: `on ${host.name}: nix-collect-garbage --delete-older-than 14d`,
          },
    );
  }
  checks.push(...(await accessChecks(engine, host, signal)));
  if (host.cache) checks.push(...cacheChecks(host, host.cache, settings.join("\n")));
  return checks;
}

/** Whether the host will substitute from its cache (cache.ts), from the settings preflight.sh printed. */
function cacheChecks(host: Host, cache: string, settingsText: string): Check[] {
  const settings = parseNixSettings(settingsText);
  const secretKey = host.signingKey ?? cacheSecretKey(cache);
  let publicKey: string | undefined;
  try {
    publicKey = secretKey ? publicKeyOf(secretKey) : undefined;
  } catch (error) {
    return [{ check: "cache key", status: "fail", detail: describeError(error) }];
  }
  return cacheTrustChecks(host.name, cache, settings.size ? settings : undefined, publicKey);
}

function lockCheck(host: Host, env: NodeJS.ProcessEnv): Check {
  const holder = readJson<LockHolder>(join(stateDir(env), "locks", `${host.name}.lock`));
  if (holder && processAlive(holder.pid)) {
    return {
      check: "lock",
      status: "fail",
      detail: `being deployed by deployment ${holder.deploymentId} (pid ${holder.pid})`,
      remedy: "wait for it to finish",
    };
  }
  return {
    check: "lock",
    status: "pass",
    detail: holder ? `stale lock of ${holder.deploymentId}; it will be taken over` : "free",
  };
}
