import { existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative } from "node:path";
import { z } from "zod";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { homeManagerProfiles } from "../fleet/home-manager.js";
import { discoverFleet, type Host, selectHosts } from "../fleet/hosts.js";
import { hostNameSchema } from "../fleet/inventory.js";
import { operation } from "../hooks.js";
import { hostCommand } from "../host/scripts.js";
import { mapLimit, runCommand } from "../process.js";
import { connectionFailureReason } from "../remote/ssh.js";
import { writeFileAtomic } from "../state.js";
import { isInside, realPathOf, servedFlake } from "../trust.js";
import { factsFromLines, type MachineFacts, machineFactsSchema } from "./machine-facts.js";

export { type MachineFacts, machineFactsSchema } from "./machine-facts.js";

export const hostFactsOptionsSchema = z.object({
  hosts: z.array(z.string().min(1)).min(1).optional().describe('names, @tag or "all"'),
  local: z.boolean().optional().describe("this machine, without ssh"),
  name: hostNameSchema
    .optional()
    .describe("with local: the host name to file its facter report under (default: this machine's hostname)"),
  saveFacter: z.boolean().optional().describe("default true"),
});
export type HostFactsOptions = z.infer<typeof hostFactsOptionsSchema> & { flake?: string };

const facterSchema = z.object({
  file: z.string().describe("the saved report, relative to the flake root"),
  backup: z.string().optional().describe("the previous report, kept before it was replaced"),
  reportPath: z.string().describe("the Nix line that makes a host use the report"),
});

export const hostFactsResultSchema = z.object({
  status: z.enum(["ok", "failed"]).describe("failed when any host could not be probed"),
  hosts: z.array(
    z.object({
      host: z.string(),
      check: z.enum(["pass", "fail"]).describe("fail: the host did not answer; its facts are absent"),
      reason: z.string().optional(),
      facts: machineFactsSchema.optional(),
      facter: facterSchema.optional(),
      facterError: z.string().optional().describe("nixos-facter is there but its report could not be kept"),
    }),
  ),
  summary: z.string(),
  next: z.string(),
});
export type HostFactsResult = z.infer<typeof hostFactsResultSchema>;
type HostFactsEntry = HostFactsResult["hosts"][number];

const FACTS_TIMEOUT_MS = 30_000;
const FACTER_TIMEOUT_MS = 120_000;

/** Where a probe runs: over ssh to an inventory host (or an explicit target), or this machine. */
export type ProbeTarget = { name: string; host?: Host };

async function runOn(
  engine: Engine,
  target: ProbeTarget,
  argv: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ ok: boolean; reason?: string; stdout: string; exitCode: number }> {
  if (!target.host) {
    const result = await runCommand(argv[0] as string, argv.slice(1), { timeoutMs, signal });
    return { ok: true, stdout: result.stdout, exitCode: result.exitCode };
  }
  const result = await engine.remote.run(target.host.ssh, argv, { timeoutMs, signal });
  if (result.connectionFailed)
    return { ok: false, reason: connectionFailureReason(result), stdout: "", exitCode: 255 };
  return { ok: true, stdout: result.stdout, exitCode: result.exitCode };
}

/** The facts of one machine; an unreachable one is a failed check with ssh's reason. */
export async function gatherFacts(
  engine: Engine,
  target: ProbeTarget,
  signal?: AbortSignal,
): Promise<{ facts?: MachineFacts; reason?: string; facterReport?: string; facterError?: string }> {
  const [script, home] = await Promise.all([
    runOn(engine, target, hostCommand("facts", "nix-deploy-facts"), FACTS_TIMEOUT_MS, signal),
    homeManagerProfiles(engine, target.host, signal),
  ]);
  if (!script.ok) return { reason: script.reason };
  const facts = factsFromLines(target.name, script.stdout, home.profiles);
  if (!facts.tools["nixos-facter"]) return { facts };
  // nixos-facter prints its JSON report on stdout; it is kept exactly as printed.
  const facter = await runOn(engine, target, ["nixos-facter"], FACTER_TIMEOUT_MS, signal);
  if (!facter.ok || facter.exitCode !== 0)
    return {
      facts,
      facterError: `nixos-facter failed (exit ${facter.exitCode})${facter.reason ? `: ${facter.reason}` : ""}`,
    };
  try {
    const parsed: unknown = JSON.parse(facter.stdout);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
  } catch (error) {
    return { facts, facterError: `nixos-facter printed no JSON report: ${(error as Error).message}` };
  }
  return { facts, facterReport: facter.stdout };
}

/**
 * Saves a facter report as hosts/NAME/facter.json in the flake: never outside the flake root (a
 * link in the way counts), atomically, the previous report kept as facter.json.bak.
 */
export function saveFacterReport(flake: string, name: string, report: string): z.infer<typeof facterSchema> {
  const file = join(flake, "hosts", name, "facter.json");
  if (!isInside(realPathOf(flake), realPathOf(file)))
    throw new UserError(
      `hosts/${name}/facter.json leads outside the flake (${realPathOf(file)})`,
      `remove the link at hosts/${name} or hosts/${name}/facter.json in ${flake}`,
    );
  mkdirSync(join(flake, "hosts", name), { recursive: true });
  const existed = existsSync(file);
  writeFileAtomic(file, report, { backup: true, mode: 0o644 });
  const rel = relative(flake, file);
  return {
    file: rel,
    backup: existed ? `${rel}.bak` : undefined,
    reportPath: `hardware.facter.reportPath = ./${rel};`,
  };
}

/**
 * host_facts: probes hosts (names, @tag, all) over ssh in parallel, or this machine without ssh.
 * Read-only on the hosts; the only file written is a facter report in the flake.
 */
export const hostFacts = operation<HostFactsOptions, HostFactsResult>(async (engine, options, hooks) => {
  if (options.local === (options.hosts !== undefined))
    throw new UserError(
      options.local ? "give hosts or local, not both" : "no hosts given",
      'name hosts (p620), a tag (@web) or "all", or local: true for the machine nix-deploy runs on',
    );
  const flake = servedFlake(engine, options.flake);
  let targets: ProbeTarget[];
  if (options.local) {
    const name = options.name ?? hostname().split(".")[0] ?? "localhost";
    targets = [{ name: hostNameSchema.safeParse(name).success ? name : "localhost" }];
  } else {
    const fleet = await discoverFleet(engine, { flake, signal: hooks.signal, selectors: options.hosts });
    targets = selectHosts(fleet, options.hosts ?? []).map((host) => ({ name: host.name, host }));
  }
  const hosts = await mapLimit(targets, engine.parallelism, async (target): Promise<HostFactsEntry> => {
    hooks.progress?.(`${target.name}: reading facts`);
    const gathered = await gatherFacts(engine, target, hooks.signal);
    if (!gathered.facts) return { host: target.name, check: "fail", reason: gathered.reason };
    const entry: HostFactsEntry = { host: target.name, check: "pass", facts: gathered.facts };
    if (gathered.facterError) entry.facterError = gathered.facterError;
    if (gathered.facterReport !== undefined && options.saveFacter !== false) {
      try {
        entry.facter = saveFacterReport(flake, target.name, gathered.facterReport);
      } catch (error) {
        entry.facterError = describeError(error);
      }
    }
    return entry;
  });
  const failed = hosts.filter((h) => h.check === "fail");
  const saved = hosts.filter((h) => h.facter);
  engine.log.info({ hosts: hosts.map((h) => [h.host, h.check]) }, "host facts");
  return {
    status: failed.length ? "failed" : "ok",
    hosts,
    summary: [
      ...hosts.map((h) =>
        h.facts ? `${h.host}: ${oneLine(h.facts)}` : `${h.host}: not reachable (${h.reason})`,
      ),
      ...saved.map((h) => `${h.host}: facter report saved as ${h.facter?.file}`),
    ].join("; "),
    next: failed.length
      ? `check that ${failed.map((h) => h.host).join(", ")} ${failed.length > 1 ? "are" : "is"} up and reachable over ssh`
      : saved.length
        ? `git add the saved report(s) and reference them with ${saved[0]?.facter?.reportPath}`
        : "use the facts to add or install a host",
  };
});

const gib = (bytes: number | "unknown") =>
  bytes === "unknown" ? "?" : `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/** `x86_64-linux, NixOS, efi, nvidia (nvidia 550.78), 31.2 GiB, 2 disks`. */
function oneLine(facts: MachineFacts): string {
  const kind = facts.installer ? "NixOS installer" : facts.nixos ? "NixOS" : facts.os;
  const gpu = facts.gpu.vendor === "none" ? "no GPU" : `${facts.gpu.vendor} GPU (${facts.gpu.driver})`;
  return `${facts.system}, ${kind}, ${facts.boot}, ${gpu}, ${gib(facts.memoryBytes)} RAM, ${facts.disks.length} disk(s)`;
}
