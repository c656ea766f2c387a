import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { z } from "zod";
import { describePackageChange, type PackageChange, parseDiffClosures } from "../deploy/changes.js";
import { fleetEvaluationLimits, HostEvaluation } from "../deploy/evaluation.js";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { discoverFleet, selectFlakeHosts } from "../fleet/hosts.js";
import { operation } from "../hooks.js";
import { mapLimit, runCommand } from "../process.js";
import { hostSelectorAllByDefault, nextSchema } from "../schemas.js";
import { servedFlake } from "../trust.js";
import { lockedInputs } from "./flake-lock.js";
import type { ChangingPackage } from "./matching.js";

/**
 * What a flake update would change, found without touching the user's flake: the flake is copied
 * to a scratch directory, each selected host is built there with the current lock, the lock is
 * updated there, each host is built again, and the two systems are compared with
 * `nix store diff-closures` on this machine's store.
 */

/** Flake input names as flake.nix spells them; they become arguments of nix. */
export const inputNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_'-]{0,99}$/, "an input name of flake.nix, e.g. nixpkgs");

export const previewOptionsSchema = z.object({
  hosts: hostSelectorAllByDefault,
  inputs: z
    .array(inputNameSchema)
    .min(1)
    .optional()
    .describe('inputs to update, e.g. ["nixpkgs"] (default: all)'),
  evalOnly: z
    .boolean()
    .optional()
    .describe("only evaluate: compare the derivations' names and versions, build nothing (no size delta)"),
});
export type PreviewOptions = z.infer<typeof previewOptionsSchema> & { flake?: string };

const MAX_LINES = 20;

export const movedInputSchema = z.object({
  input: z.string(),
  oldRev: z.string().optional(),
  newRev: z.string().optional(),
  oldDate: z.string().optional().describe("lastModified of the locked revision, ISO date"),
  newDate: z.string().optional(),
});
export type MovedInput = z.infer<typeof movedInputSchema>;

const hostPreviewSchema = z.object({
  host: z.string(),
  changed: z.boolean().describe("the host's system would differ from the one built with the current lock"),
  packageChanges: z.array(z.string()).describe("name: old → new, at most 20"),
  added: z.array(z.string()).describe("packages new in the closure: name-version, at most 20"),
  removed: z.array(z.string()).describe("packages gone from the closure, at most 20"),
  changeCount: z.number().describe("all changed, added and removed packages"),
  closureSizeDelta: z.number().optional().describe("bytes; absent with evalOnly"),
  storageImpact: z.string().optional().describe("the delta for a person: +1.2 MiB"),
  error: z.string().optional(),
});
export type HostPreview = z.infer<typeof hostPreviewSchema>;

export const previewResultSchema = z.object({
  status: z.enum(["succeeded", "failed"]),
  mode: z.enum(["build", "eval"]),
  inputs: z.array(movedInputSchema).describe("inputs whose locked revision moved"),
  summary: z.string(),
  hosts: z.array(hostPreviewSchema),
  next: nextSchema,
});
export type PreviewResult = z.infer<typeof previewResultSchema>;

/** A preview with what the update operations need beyond the tool's result. */
export interface Preview {
  result: PreviewResult;
  /** flake.lock before and after the update; `before` undefined when the flake had no lock. */
  lockBefore?: string;
  lockAfter: string;
  /** The packages that change on any host, for the nixpkgs issue check. */
  changing: ChangingPackage[];
  /** The newest lastModified among the moved inputs: issues closed before it are fixed in the update. */
  newLockDate?: Date;
}

export const previewUpdates = operation<PreviewOptions, PreviewResult>(async (engine, options, hooks) => {
  return (await preview(engine, options, hooks)).result;
});

export const preview = operation<PreviewOptions, Preview>(async (engine, options, hooks) => {
  const flake = servedFlake(engine, options.flake);
  const fleet = await discoverFleet(engine, { flake, signal: hooks.signal });
  const hosts = selectFlakeHosts(fleet, options.hosts ?? ["all"]);
  if (hosts.length === 0)
    throw new UserError("the flake has no nixosConfigurations", "add the hosts' configurations to the flake");
  const evalOnly = options.evalOnly ?? false;
  const scratch = mkdtempSync(join(tmpdir(), "nix-deploy-preview-"));
  try {
    const copy = join(scratch, "flake");
    await copyFlake(flake, copy);
    const lockFile = join(copy, "flake.lock");
    const lockBefore = existsSync(lockFile) ? readFileSync(lockFile, "utf8") : undefined;
    // Nix only warns about a name that is no input (`--update-input nosuch`), and the preview
    // would then report every input up to date: a wrong name is an error, before any build.
    if (options.inputs) await assertFlakeInputs(engine, copy, options.inputs, hooks.signal);
    // Each lock's hosts are evaluated together, in chunks, as a deployment evaluates them.
    const limits = fleetEvaluationLimits(engine.env, fleet.limits);
    const names = hosts.map((h) => h.name);
    let evaluation = new HostEvaluation(engine, copy, names, { ...limits, signal: hooks.signal });
    const realise = (host: string) => (evalOnly ? evaluation.derivation(host) : evaluation.build(host));

    hooks.progress(`${evalOnly ? "evaluating" : "building"} ${hosts.length} host(s) with the current lock`);
    const before = await mapLimit(hosts, engine.parallelism, (h) => settle(realise(h.name)));
    hooks.progress(`updating ${options.inputs?.join(", ") ?? "all inputs"} in a scratch copy`);
    await engine.nix.updateLock(copy, options.inputs ?? [], { signal: hooks.signal });
    evaluation = new HostEvaluation(engine, copy, names, { ...limits, signal: hooks.signal });
    const lockAfter = readFileSync(lockFile, "utf8");
    const inputs = movedInputs(lockBefore, lockAfter);

    hooks.progress(`${evalOnly ? "evaluating" : "building"} ${hosts.length} host(s) with the new lock`);
    const allChanges: PackageChange[] = [];
    const results = await mapLimit(hosts, engine.parallelism, async (host, index): Promise<HostPreview> => {
      const old = before[index] as Settled<string>;
      const fresh = await settle(realise(host.name));
      const failed = (error: string): HostPreview => ({
        host: host.name,
        changed: false,
        packageChanges: [],
        added: [],
        removed: [],
        changeCount: 0,
        error,
      });
      if (!old.ok) return failed(`with the current lock: ${old.error}`);
      if (!fresh.ok) return failed(`with the new lock: ${fresh.error}`);
      const changes = evalOnly
        ? await derivationChanges(engine, old.value, fresh.value)
        : parseDiffClosures(await engine.nix.diffClosures(old.value, fresh.value, { signal: hooks.signal }));
      allChanges.push(...changes);
      const hostPreview = describeHost(host.name, old.value !== fresh.value, changes);
      if (!evalOnly) {
        const [a, b] = await engine.nix.pathInfo([old.value, fresh.value], { closureSize: true });
        const delta = (b?.closureSize ?? 0) - (a?.closureSize ?? 0);
        hostPreview.closureSizeDelta = delta;
        hostPreview.storageImpact = formatBytes(delta);
      }
      hooks.progress(`${host.name}: ${hostPreview.changeCount} package change(s)`);
      return hostPreview;
    });

    const failed = results.filter((r) => r.error);
    const changedHosts = results.filter((r) => r.changeCount > 0 || r.changed);
    const result: PreviewResult = {
      status: failed.length ? "failed" : "succeeded",
      mode: evalOnly ? "eval" : "build",
      inputs,
      summary: summarize(inputs, results),
      hosts: results,
      next: failed.length
        ? `fix what the errors name (${failed.map((f) => f.host).join(", ")}); the update would not build there`
        : inputs.length === 0
          ? "every input is up to date; nothing to update"
          : changedHosts.length === 0
            ? "the update changes no host's system; updating the lock is harmless"
            : "check the changing packages for known issues (smart_update does it), then update",
    };
    engine.log.info(
      { hosts: results.map((r) => [r.host, r.changeCount]), inputs: inputs.map((i) => i.input) },
      "update previewed",
    );
    return {
      result,
      lockBefore,
      lockAfter,
      changing: changingPackages(allChanges),
      newLockDate: newestDate(inputs),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

/** Every name must be an input of the flake; the error lists the inputs it has. */
async function assertFlakeInputs(
  engine: Engine,
  flakeDir: string,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  const known = await engine.nix.flakeInputNames(flakeDir, { signal });
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  throw new UserError(
    `${unknown.map((n) => `"${n}"`).join(", ")} ${unknown.length === 1 ? "is not an input" : "are not inputs"} of the flake`,
    known.length ? `its inputs: ${known.join(", ")}` : "the flake has no inputs to update",
  );
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: string };

async function settle<T>(work: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}

/**
 * Copies what Nix sees of the flake: in a git checkout the files git tracks (as they are in the
 * working tree, uncommitted changes included, as Nix reads a dirty tree); elsewhere every file but
 * `.git`. The copy is a `path:` flake, so its lock can be rewritten without any git.
 */
async function copyFlake(flake: string, target: string): Promise<void> {
  const listed = await runCommand("git", ["-C", flake, "ls-files", "-z", "--cached"], { timeoutMs: 60_000 });
  if (listed.exitCode !== 0) {
    cpSync(flake, target, {
      recursive: true,
      filter: (source) => !relative(flake, source).split("/").includes(".git"),
    });
    return;
  }
  mkdirSync(target, { recursive: true });
  for (const file of new Set(listed.stdout.split("\0").filter(Boolean))) {
    const source = join(flake, file);
    // Deleted in the working tree but still in the index: Nix does not see it either.
    if (!existsSync(source)) continue;
    mkdirSync(dirname(join(target, file)), { recursive: true });
    cpSync(source, join(target, file), { verbatimSymlinks: true });
  }
}

/** Nix's rule for `name-version`: the version starts at the first dash not followed by a letter. */
export function splitDrvName(name: string): { pname: string; version: string } {
  const match = /-(?=[^a-zA-Z-])/.exec(name);
  return match
    ? { pname: name.slice(0, match.index), version: name.slice(match.index + 1) }
    : { pname: name, version: "" };
}

/** Package changes between two derivation closures, by the names and versions of their derivations. */
export function diffDerivationNames(
  oldPaths: readonly string[],
  newPaths: readonly string[],
): PackageChange[] {
  const versions = (paths: readonly string[]) => {
    const byName = new Map<string, Set<string>>();
    for (const path of paths) {
      const base = path.slice(path.lastIndexOf("/") + 1);
      if (!base.endsWith(".drv")) continue;
      const { pname, version } = splitDrvName(base.slice(33, -4));
      if (!byName.has(pname)) byName.set(pname, new Set());
      byName.get(pname)?.add(version);
    }
    return byName;
  };
  const before = versions(oldPaths);
  const after = versions(newPaths);
  const changes: PackageChange[] = [];
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const oldVersions = [...(before.get(name) ?? [])].sort();
    const newVersions = [...(after.get(name) ?? [])].sort();
    if (oldVersions.join() === newVersions.join()) continue;
    const kind = oldVersions.length === 0 ? "added" : newVersions.length === 0 ? "removed" : "upgraded";
    changes.push({ name, oldVersions, newVersions, kind });
  }
  return changes;
}

async function derivationChanges(engine: Engine, oldDrv: string, newDrv: string): Promise<PackageChange[]> {
  if (oldDrv === newDrv) return [];
  const [a, b] = await Promise.all([
    engine.nix.pathInfo([oldDrv], { recursive: true, derivation: true }),
    engine.nix.pathInfo([newDrv], { recursive: true, derivation: true }),
  ]);
  return diffDerivationNames(
    a.map((p) => p.path),
    b.map((p) => p.path),
  );
}

function describeHost(host: string, changed: boolean, changes: PackageChange[]): HostPreview {
  const nameVersion = (c: PackageChange, versions: string[]) =>
    versions.length && versions[0] ? `${c.name}-${versions.join(", ")}` : c.name;
  return {
    host,
    changed,
    packageChanges: changes
      .filter((c) => c.kind === "upgraded" || c.kind === "rebuilt")
      .slice(0, MAX_LINES)
      .map(describePackageChange),
    added: changes
      .filter((c) => c.kind === "added")
      .slice(0, MAX_LINES)
      .map((c) => nameVersion(c, c.newVersions)),
    removed: changes
      .filter((c) => c.kind === "removed")
      .slice(0, MAX_LINES)
      .map((c) => nameVersion(c, c.oldVersions)),
    changeCount: changes.length,
  };
}

export function movedInputs(lockBefore: string | undefined, lockAfter: string): MovedInput[] {
  const before = lockedInputs(lockBefore);
  const after = lockedInputs(lockAfter);
  const date = (seconds?: number) => (seconds ? new Date(seconds * 1000).toISOString() : undefined);
  const moved: MovedInput[] = [];
  for (const [input, now] of after) {
    const then = before.get(input);
    if (then && then.rev === now.rev && then.narHash === now.narHash) continue;
    moved.push({
      input,
      oldRev: then?.rev,
      newRev: now.rev,
      oldDate: date(then?.lastModified),
      newDate: date(now.lastModified),
    });
  }
  return moved;
}

function newestDate(inputs: MovedInput[]): Date | undefined {
  const dates = inputs.flatMap((i) => (i.newDate ? [new Date(i.newDate).getTime()] : []));
  return dates.length ? new Date(Math.max(...dates)) : undefined;
}

/** Every package that changes on some host, once, with the versions the issue check compares. */
function changingPackages(changes: PackageChange[]): ChangingPackage[] {
  const byName = new Map<string, ChangingPackage>();
  for (const change of changes) {
    if (change.kind === "removed" || byName.has(change.name)) continue;
    byName.set(change.name, {
      name: change.name,
      oldVersion: change.oldVersions[0] || undefined,
      newVersion: change.newVersions[0] || undefined,
    });
  }
  return [...byName.values()];
}

export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? "-" : "+";
  let value = Math.abs(bytes);
  for (const unit of ["B", "KiB", "MiB", "GiB"]) {
    if (value < 1024 || unit === "GiB") return `${sign}${unit === "B" ? value : value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${sign}${value} B`;
}

function summarize(inputs: MovedInput[], hosts: HostPreview[]): string {
  if (inputs.length === 0) return "no input moved";
  const moved = inputs.map(
    (i) => `${i.input} ${i.oldRev?.slice(0, 7) ?? "∅"} → ${i.newRev?.slice(0, 7) ?? "?"}`,
  );
  const perHost = hosts.map((h) => (h.error ? `${h.host}: failed` : `${h.host}: ${h.changeCount} change(s)`));
  return `${moved.join(", ")}; ${perHost.join(", ")}`;
}
