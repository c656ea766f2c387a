/**
 * add_host: a new host in the flake, from templates and the machine's facts. It shows the diff of
 * every file it would create or change and the checks of the new text (parse, lint, the security
 * rules) first; writing (dryRun: false) takes a backup of what it changes, writes, and then the
 * host must evaluate (its toplevel's drvPath) and pass the evaluated security audit, or every file
 * is restored from the backup byte for byte and the new ones removed. Like clan-core's hardware
 * update, which keeps a `.bak`, evaluates, and restores on failure; the backup here is the one
 * store's (backup/store.ts), outside the user's tree.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { analyzeSource, type Finding } from "../analysis/analyze.js";
import { securityAudit } from "../analysis/audit.js";
import { SourceText } from "../analysis/source.js";
import { restoreFromBackup } from "../backup/operations.js";
import { createBackup, DEFAULT_KEEP } from "../backup/store.js";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { assertFlakeDir, flakeHostNames } from "../fleet/hosts.js";
import {
  formatSchemaIssues,
  INVENTORY_FILE,
  type InventoryHost,
  loadInventory,
  parseInventory,
} from "../fleet/inventory.js";
import { operation, quietHooks } from "../hooks.js";
import { hostInstallable } from "../nix.js";
import { writeFileAtomic } from "../state.js";
import { isInside, realPathOf, servedFlake } from "../trust.js";
import { unifiedDiff } from "./diff.js";
import { addFlakeEntry, inputRef, type OutputsArgs } from "./flake-edit.js";
import { flakeInputs, gitAddIntent, gitForget, isGitRepository } from "./flake-git.js";
import { type AddHostInput, addHostInput, checkDisk, facterPath, specOf } from "./input.js";
import { newOnboardingId, type OnboardingCheck, onboardingCheckSchema, saveOnboarding } from "./record.js";
import { type HostSpec, hostDir, type InputRefs, renderHostFiles } from "./templates.js";

export const addHostResultSchema = z.object({
  status: z.enum(["planned", "written", "rolled-back"]),
  host: z.string(),
  flake: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      action: z.enum(["create", "change"]),
      diff: z.string().describe("unified diff against the file as it is"),
    }),
  ),
  checks: z
    .array(onboardingCheckSchema)
    .describe("parse, lint, security rules; evaluation and audit when written"),
  backup: z.string().optional().describe("the backup taken before writing (restore takes it back)"),
  error: z.string().optional().describe("why the written host was rolled back"),
  notes: z.array(z.string()),
  recordId: z.string().describe("the onboarding record, shown by nix-deploy://reports/onboarding/{id}"),
  summary: z.string(),
  next: z.string(),
});
export type AddHostResult = z.infer<typeof addHostResultSchema>;

interface Change {
  path: string;
  before?: Buffer;
  after: string;
  mode: number;
}

/** Findings in `after` that `before` did not have (a flake's own findings are not add_host's). */
function newFindings(
  path: string,
  before: Buffer | undefined,
  after: string,
  ruleSet: "antipatterns" | "security",
) {
  const key = (f: Finding) => `${f.code}\0${f.message}`;
  const old = new Map<string, number>();
  if (before) {
    const analysis = analyzeSource(path, new SourceText(before), { ruleSet });
    for (const f of [...analysis.syntaxErrors, ...analysis.findings])
      old.set(key(f), (old.get(key(f)) ?? 0) + 1);
  }
  const analysis = analyzeSource(path, SourceText.fromString(after), { ruleSet });
  return [...analysis.syntaxErrors, ...analysis.findings].filter((f) => {
    const left = old.get(key(f)) ?? 0;
    old.set(key(f), left - 1);
    return left <= 0;
  });
}

/** The checks of the new text, before anything is written. */
function sourceChecks(changes: Change[]): OnboardingCheck[] {
  const nix = changes.filter((c) => c.path.endsWith(".nix"));
  const lint = nix.flatMap((c) => newFindings(c.path, c.before, c.after, "antipatterns"));
  const syntax = lint.filter((f) => f.code === "syntax-error");
  const style = lint.filter((f) => f.code !== "syntax-error");
  const security = nix.flatMap((c) => newFindings(c.path, c.before, c.after, "security"));
  const show = (fs: Finding[]) =>
    fs
      .slice(0, 5)
      .map((f) => `${f.file}:${f.line}: ${f.code}: ${f.message}`)
      .join("; ");
  return [
    {
      check: "parse",
      ok: syntax.length === 0,
      detail: syntax.length ? show(syntax) : `${nix.length} files parse`,
    },
    {
      check: "lint",
      ok: !style.some((f) => f.severity === "block"),
      detail: style.length ? show(style) : "no findings",
    },
    {
      check: "security rules",
      ok: !security.some((f) => f.severity === "block"),
      detail: security.length ? show(security) : "no findings",
    },
  ];
}

function inventoryChange(
  engine: Engine,
  flake: string,
  input: AddHostInput,
  notes: string[],
): Change | undefined {
  const file = engine.inventoryFile ? resolve(engine.inventoryFile) : join(flake, INVENTORY_FILE);
  if (!isInside(realPathOf(flake), realPathOf(file))) {
    notes.push(
      `the inventory ${file} is outside the flake and was not changed; add ${input.name} to it yourself`,
    );
    return undefined;
  }
  const before = existsSync(file) ? readFileSync(file) : undefined;
  const inventory = before ? parseInventory(before.toString("utf8"), file) : {};
  const entry: InventoryHost = {
    ...(input.target ? { target: input.target } : {}),
    ...(input.port ? { port: input.port } : {}),
    ...(input.tags?.length ? { tags: input.tags } : {}),
    criticalServices: ["sshd.service"],
  };
  const after = `${JSON.stringify({ ...inventory, hosts: { ...inventory.hosts, [input.name]: entry } }, null, 2)}\n`;
  parseInventory(after, file);
  const path = file.slice(flake.length + 1);
  return { path, before, after, mode: before ? statSync(file).mode & 0o777 : 0o644 };
}

function refsFor(inputs: string[], notes: string[], spec: HostSpec) {
  return (args: OutputsArgs): InputRefs => {
    const ref = (name: string) => (inputs.includes(name) ? inputRef(args, name) : undefined);
    const nixpkgs = ref("nixpkgs");
    if (!nixpkgs)
      throw new UserError(
        "the flake's outputs function does not name its nixpkgs input",
        "add nixpkgs to the outputs' arguments ({ self, nixpkgs, ... }:) so the host can use nixpkgs.lib.nixosSystem",
      );
    const refs = {
      nixpkgs,
      disko: ref("disko"),
      homeManager: ref("home-manager"),
      facter: ref("nixos-facter-modules"),
    };
    if (!refs.disko)
      notes.push(
        `the flake has no disko input: hosts/${spec.name}/disko.nix is written for installing (nixos-anywhere, disko --mode disko) and partitions.nix declares its file systems; to let disko manage them, add the input disko, put disko.nixosModules.disko and ./hosts/${spec.name}/disko.nix in the host's modules and drop partitions.nix`,
      );
    if (spec.user && !refs.homeManager)
      notes.push(
        `the flake has no home-manager input: hosts/${spec.name}/home.nix is written but not used yet; add the input home-manager and home-manager.nixosModules.home-manager with home-manager.users.${spec.user} = import ./hosts/${spec.name}/home.nix`,
      );
    if (spec.facterReport && !refs.facter)
      notes.push(
        "hardware.facter.reportPath needs the facter module: nixpkgs' own, or the nixos-facter-modules input's nixosModules.facter",
      );
    return refs;
  };
}

/** What add_host would write: every change with its new text, in the order they are written. */
async function planChanges(engine: Engine, flake: string, input: AddHostInput, notes: string[]) {
  checkDisk(input.disk);
  const facter = input.facterReport ? facterPath(flake, input.name, input.facterReport) : undefined;
  const spec = specOf(input, facter?.nixPath);
  const inventoryNames = Object.keys(
    (await loadInventory(flake, engine.inventoryFile)).inventory.hosts ?? {},
  );
  const existing = [...new Set([...(await flakeHostNames(engine, flake)), ...inventoryNames])].sort();
  if (existing.includes(input.name))
    throw new UserError(
      `${input.name} is a host of this flake already`,
      `hosts: ${existing.join(", ")}; choose another name`,
    );
  // Any file of the host's directory but a facts report saved there (host_facts) is add_host's to write.
  const taken = ["configuration.nix", "disko.nix", "home.nix", "boot.nix"].filter((f) =>
    existsSync(join(flake, hostDir(spec.name), f)),
  );
  if (taken.length)
    throw new UserError(
      `${hostDir(spec.name)} has ${taken.join(", ")} already`,
      "remove them, or choose another host name",
    );
  const flakeFile = join(flake, "flake.nix");
  const flakeBefore = readFileSync(flakeFile);
  const inputs = flakeInputs(flake, flakeBefore.toString("latin1"));
  const refs: { value?: InputRefs } = {};
  const flakeAfter = addFlakeEntry(flakeBefore.toString("latin1"), spec, (args) => {
    refs.value = refsFor(inputs, notes, spec)(args);
    return refs.value;
  });
  const changes: Change[] = [
    ...renderHostFiles(spec, refs.value as InputRefs).map((file) => ({
      path: file.path,
      after: file.text,
      mode: 0o644,
    })),
    {
      path: "flake.nix",
      before: flakeBefore,
      after: Buffer.from(flakeAfter, "latin1").toString("utf8"),
      mode: statSync(flakeFile).mode & 0o777,
    },
  ];
  const inventory = inventoryChange(engine, flake, input, notes);
  if (inventory) changes.push(inventory);
  return { spec, changes, facterFile: facter?.file };
}

export const addHost = operation<AddHostInput, AddHostResult>(async (engine, input, hooks) => {
  const flake = servedFlake(engine, input.flake);
  assertFlakeDir(flake);
  // The names become Nix attribute names and file names: checked here too, not only by the tool's schema.
  const valid = z.object(addHostInput).safeParse(input);
  if (!valid.success)
    throw new UserError(`add_host: ${formatSchemaIssues(valid.error)}`, "correct the fields named above");
  const createdAt = new Date().toISOString();
  const notes: string[] = [];
  const { spec, changes, facterFile } = await planChanges(engine, flake, input, notes);
  const files = changes.map((c) => ({
    path: c.path,
    action: c.before ? ("change" as const) : ("create" as const),
    diff: unifiedDiff(c.path, c.before?.toString("utf8"), c.after),
  }));
  const checks = sourceChecks(changes);
  const dryRun = input.dryRun ?? true;
  const record = (status: AddHostResult["status"], extra: { backup?: string; error?: string } = {}) => {
    const id = newOnboardingId();
    saveOnboarding(engine.env, {
      id,
      createdAt,
      finishedAt: new Date().toISOString(),
      flake,
      step: "add_host",
      host: spec.name,
      status,
      machine: {
        system: spec.system,
        boot: spec.boot,
        gpu: spec.gpu,
        disk: spec.disk,
        user: spec.user,
        services: spec.services,
      },
      files: files.map(({ path, action }) => ({ path, action })),
      checks,
      ...extra,
      notes,
    });
    return id;
  };
  const base = { host: spec.name, flake, files, checks, notes };
  const failedCheck = checks.find((c) => !c.ok);
  if (dryRun || failedCheck) {
    if (!dryRun)
      throw new UserError(
        `the generated files fail the ${failedCheck?.check} check: ${failedCheck?.detail}`,
        "nothing was written; report this as a bug of add_host",
      );
    return {
      status: "planned",
      ...base,
      recordId: record("planned"),
      summary: `would create ${files.filter((f) => f.action === "create").length} files and change ${files
        .filter((f) => f.action === "change")
        .map((f) => f.path)
        .join(" and ")} for ${spec.name}`,
      next: `review the diff; then call add_host with the same input and dryRun: false to write it (backed up, evaluated, restored on failure)`,
    };
  }

  const created = changes.filter((c) => !c.before).map((c) => c.path);
  const taken = createBackup(engine.env, {
    source: flake,
    files: changes.filter((c) => c.before).map((c) => c.path),
    absent: created,
    kind: "add-host",
    reason: `add_host ${spec.name}`,
    keep: DEFAULT_KEEP,
  });
  // A file that could not be backed up (a link, say) could not be restored: nothing is written then.
  if (taken.skipped.length)
    throw new UserError(
      `add_host does not change ${taken.skipped.map((s) => `${s.path} (${s.reason})`).join(", ")}: it could not restore it`,
      "make it a regular file of the flake, or add the host by hand",
    );
  const backup = taken.manifest;
  hooks.progress?.(`backed up as ${backup.id}; writing ${changes.length} files`);
  const intended = [...created.filter((p) => p.endsWith(".nix")), ...(facterFile ? [facterFile] : [])];
  let added: string[] = [];
  try {
    for (const change of changes) {
      const target = join(flake, change.path);
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      if (change.before) writeFileAtomic(target, change.after, { backup: false, mode: change.mode });
      else writeFileSync(target, change.after, { mode: change.mode, flag: "wx" });
    }
    // A flake in git sees only files git knows: the new ones are added with --intent-to-add.
    added = await gitAddIntent(flake, intended);
    hooks.progress?.(`evaluating ${spec.name}`);
    const drvPath = await engine.nix.evalJson<string>(
      hostInstallable(flake, spec.name, "config.system.build.toplevel.drvPath"),
      {
        signal: hooks.signal,
      },
    );
    checks.push({ check: "evaluation", ok: true, detail: drvPath });
    hooks.progress?.(`auditing ${spec.name}`);
    // Its source layer reads only what changed (in git); the files add_host wrote were checked above.
    const audit = await securityAudit(
      engine,
      {
        flake,
        hosts: [spec.name],
        changed: await isGitRepository(flake),
      },
      quietHooks({ signal: hooks.signal }),
    );
    const host = audit.hosts.find((h) => h.host === spec.name);
    const blocking = host?.findings.filter((f) => f.severity === "block") ?? [];
    const warnings = host?.findings.filter((f) => f.severity === "warn") ?? [];
    checks.push({
      check: "security audit",
      ok: !host?.error && blocking.length === 0,
      detail:
        host?.error ??
        ([...blocking, ...warnings].map((f) => f.message).join("; ") ||
          `firewall ${host?.firewallEnabled === false ? "off" : "on"}, open tcp ${host?.openTCPPorts?.join(" ") || "none"}`),
    });
    if (host?.error || blocking.length)
      throw new UserError(`the security audit of ${spec.name} failed: ${checks.at(-1)?.detail}`);
  } catch (error) {
    if (!(error instanceof UserError)) engine.log.error({ err: error, host: spec.name }, "add_host failed");
    const message = describeError(error);
    if (!checks.some((c) => !c.ok))
      checks.push({ check: "evaluation", ok: false, detail: message.split("\n").slice(0, 8).join("\n") });
    await gitForget(flake, added);
    restoreFromBackup(engine, flake, backup);
    engine.log.warn({ host: spec.name, backup: backup.id }, "add_host rolled back");
    return {
      status: "rolled-back",
      ...base,
      backup: backup.id,
      error: message,
      recordId: record("rolled-back", { backup: backup.id, error: message }),
      summary: `${spec.name} did not pass its checks; every file is back as it was (backup ${backup.id})`,
      next: "fix what the error names (the input, or the flake), then run add_host again",
    };
  }
  engine.log.info({ host: spec.name, backup: backup.id, files: files.map((f) => f.path) }, "host added");
  return {
    status: "written",
    ...base,
    backup: backup.id,
    recordId: record("written", { backup: backup.id }),
    summary: `added ${spec.name}: ${files.length} files written, evaluated and audited (backup ${backup.id})`,
    next: `commit the new files (commit_changes); then install_host for a fresh machine, or deploy ${spec.name} (dryRun first) for one that runs NixOS`,
  };
});
