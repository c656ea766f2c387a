import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { z } from "zod";
import type { Engine } from "./engine.js";
import { UserError } from "./errors.js";
import { discoverFleet, selectHosts } from "./fleet/hosts.js";
import { stateDir } from "./log.js";
import { type ParsedRequest, parseRequest } from "./request.js";
import { nextSchema } from "./schemas.js";
import { listJsonFiles, readJson, writeFileAtomic } from "./state.js";

/**
 * A plan turns a one-line request into hosts, mode and the phases that will run, before anything
 * runs; `deploy` takes the plan's id so that what runs is what was shown.
 */

const phaseSchema = z.object({
  phase: z.string(),
  tool: z.string().optional().describe("the tool that runs this phase"),
  gate: z
    .enum(["blocks", "warns", "asks", "runs"])
    .describe("blocks: a failure stops; warns: reported; asks: stop and ask the user"),
});
export type PlanPhase = z.infer<typeof phaseSchema>;

/** More hosts than this in one deployment, and the plan proposes a canary. */
const CANARY_ABOVE = 5;

export const planResultSchema = z.object({
  planId: z.string(),
  action: z.enum([
    "deploy",
    "preview",
    "update",
    "update-workflow",
    "smart-update",
    "add-host",
    "onboard",
    "install",
  ]),
  disk: z.string().optional().describe("the disk install_host erases, by id"),
  mode: z.enum(["standard", "fast", "emergency"]),
  hosts: z.array(z.string()).describe("resolved host names"),
  parallel: z.boolean(),
  dryRun: z.boolean(),
  issue: z.number().optional(),
  phases: z.array(phaseSchema),
  summary: z.string(),
  proposals: z
    .array(z.string())
    .optional()
    .describe(
      "changes to the inventory worth asking the user about, e.g. deploying this machine without ssh",
    ),
  next: nextSchema,
});
export type PlanResult = z.infer<typeof planResultSchema>;

export interface StoredPlan extends PlanResult {
  flake: string;
  createdAt: string;
}

const PHASES: Record<string, PlanPhase[]> = {
  "deploy:standard": [
    { phase: "preflight: git, evaluation, ssh, disk, locks", tool: "preflight", gate: "blocks" },
    { phase: "syntax of every .nix file", tool: "validate_syntax", gate: "blocks" },
    { phase: "anti-patterns (critical ones block)", tool: "scan_antipatterns", gate: "blocks" },
    { phase: "security audit", tool: "security_audit", gate: "warns" },
    { phase: "test build", tool: "test_build", gate: "blocks" },
    {
      phase: "change detection, copy, activation under magic rollback, health, automatic rollback",
      tool: "deploy",
      gate: "blocks",
    },
  ],
  "deploy:fast": [
    { phase: "syntax of every .nix file", tool: "validate_syntax", gate: "blocks" },
    {
      phase: "build, change detection, copy, activation under magic rollback, health, automatic rollback",
      tool: "deploy",
      gate: "blocks",
    },
  ],
  "deploy:emergency": [
    {
      phase: "build, copy, activation under magic rollback (rollback point kept), health, automatic rollback",
      tool: "deploy",
      gate: "blocks",
    },
  ],
  preview: [
    {
      phase: "flake update in a scratch copy, build, package changes",
      tool: "preview_updates",
      gate: "runs",
    },
    { phase: "known nixpkgs issues for the changing packages", tool: "check_nixpkgs_issues", gate: "warns" },
  ],
  update: [
    { phase: "flake update, build and preview", tool: "preview_updates", gate: "runs" },
    { phase: "known nixpkgs issues", tool: "check_nixpkgs_issues", gate: "blocks" },
    { phase: "apply the new lock (old one backed up) and deploy", tool: "update", gate: "blocks" },
  ],
  "update-workflow": [
    {
      phase: "in parallel: known nixpkgs issues, preview of changes, syntax",
      tool: "check_nixpkgs_issues",
      gate: "runs",
    },
    { phase: "preview of package changes", tool: "preview_updates", gate: "runs" },
    { phase: "syntax of every .nix file", tool: "validate_syntax", gate: "blocks" },
    { phase: "show the findings and ask before updating", gate: "asks" },
    { phase: "apply the new lock and deploy", tool: "update", gate: "blocks" },
  ],
  "smart-update": [
    {
      phase: "in parallel: issue check, flake update + build, syntax, preview; one risk verdict",
      tool: "smart_update",
      gate: "runs",
    },
    { phase: "proceed on no issues; ask on medium/high; stop on critical", gate: "asks" },
  ],
};

const FACTS: PlanPhase = {
  phase: "machine facts: system, EFI or BIOS, GPU vendor, disks by id (and a nixos-facter report)",
  tool: "host_facts",
  gate: "runs",
};
const ADD_HOST: PlanPhase[] = [
  {
    phase: "add_host with the facts (dry run): the files it writes as a diff, and their checks",
    tool: "add_host",
    gate: "asks",
  },
  {
    phase: "add_host with dryRun: false: backup, write, evaluate and audit, or restore the backup",
    tool: "add_host",
    gate: "blocks",
  },
];
const INSTALL: PlanPhase = {
  phase: "install_host on the disk the user types back (fresh machine), or deploy (a machine running NixOS)",
  tool: "install_host",
  gate: "asks",
};
PHASES["add-host"] = [FACTS, ...ADD_HOST];
PHASES.onboard = [FACTS, ...ADD_HOST, INSTALL];

/** The phases a parsed request runs, in order: the one table behind plans and prompts. */
export function phasesFor(parsed: ParsedRequest): PlanPhase[] {
  const key = parsed.action === "deploy" ? `deploy:${parsed.mode}` : parsed.action;
  const phases = [...(PHASES[key] ?? [])];
  if (parsed.action === "install")
    // A host not in the flake yet is added first; one that is goes straight to its installation.
    phases.push(FACTS, ...(parsed.newHost ? ADD_HOST : []), {
      ...INSTALL,
      phase: `install_host on ${parsed.disk}, which the user types back before anything is erased`,
    });
  if (parsed.issue !== undefined && parsed.action !== "preview") {
    phases.push({
      phase: `commit the change referencing issue #${parsed.issue}`,
      tool: "commit_changes",
      gate: "runs",
    });
  }
  return phases;
}

function plansDir(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "plans");
}

export async function makePlan(
  engine: Engine,
  options: { request: string; flake?: string },
): Promise<PlanResult> {
  const fleet = await discoverFleet(engine, { flake: options.flake });
  const parsed = parseRequest(options.request, {
    hosts: fleet.hosts.map((h) => h.name),
    tags: [...new Set(fleet.hosts.flatMap((h) => h.tags))],
  });
  const onboarding = ["add-host", "onboard", "install"].includes(parsed.action);
  // An onboarded host is new: it is not selected from the fleet but named by the request.
  const selected = onboarding ? [] : selectHosts(fleet, parsed.hosts);
  const hosts = onboarding ? parsed.hosts : selected.map((h) => h.name);
  // The machine this runs on, named in the flake but not in the inventory, would be reached over
  // ssh by its name. Deploying it as this machine is likely what was meant, but it is never assumed.
  const self = hostname().split(".")[0];
  const proposals = selected
    .filter((h) => !h.inInventory && !h.local && h.name === self)
    .map(
      (h) =>
        `${h.name} is this machine's hostname and has no inventory entry, so it would be reached over ssh as ${h.ssh.destination}; to deploy this machine without ssh, ask the user to add "hosts": { "${h.name}": { "local": true } } to nix-deploy.json`,
    );
  // Many hosts at once spread a bad configuration as far as it can go: propose a canary first.
  if (parsed.action === "deploy" && !parsed.dryRun && hosts.length > CANARY_ABOVE)
    proposals.push(
      `${hosts.length} hosts: deploy them in waves, e.g. deploy with strategy "canary" (${hosts[0]} first; the rest only if it succeeds) or strategy "batches" with batchSize "25%"`,
    );
  const phases = phasesFor(parsed);
  const planId = `plan-${new Date().toISOString().replace(/[-:.]/g, "").slice(0, 15)}-${randomBytes(3).toString("hex")}`;
  const parallel = hosts.length > 1;
  const verb = onboarding
    ? `${parsed.action === "install" ? "installation" : "onboarding"} of`
    : parsed.dryRun
      ? "dry run of"
      : parsed.action === "deploy"
        ? `${parsed.mode} deploy to`
        : `${parsed.action} for`;
  const plan: PlanResult = {
    planId,
    action: parsed.action,
    mode: parsed.mode,
    hosts,
    parallel,
    dryRun: parsed.dryRun,
    issue: parsed.issue,
    ...(parsed.disk ? { disk: parsed.disk } : {}),
    phases,
    summary: `${verb} ${hosts.join(", ")}${parallel ? " in parallel" : ""}: ${phases.length} phase(s)`,
    ...(proposals.length ? { proposals } : {}),
    next:
      parsed.action === "deploy"
        ? `run the phases in order; call deploy with planId "${planId}" for the last one; read nix-deploy://reports/latest after`
        : onboarding
          ? "run the phases in order, passing host_facts' facts on to add_host; stop and ask where a phase says asks; read nix-deploy://reports/onboarding/latest after"
          : "run the phases in order; stop and ask the user where a phase says asks",
  };
  const stored: StoredPlan = { ...plan, flake: fleet.flake, createdAt: new Date().toISOString() };
  writeFileAtomic(join(plansDir(engine.env), `${planId}.json`), JSON.stringify(stored, null, 2), {
    backup: false,
  });
  engine.log.info(
    { planId, request: options.request, hosts, mode: parsed.mode, action: parsed.action },
    "plan made",
  );
  return plan;
}

export function loadPlan(engine: Engine, planId: string): StoredPlan {
  if (!/^plan-[0-9A-Za-z-]+$/.test(planId))
    throw new UserError(`"${planId}" is not a plan id`, "use the planId the plan tool returned");
  const plan = readJson<StoredPlan>(join(plansDir(engine.env), `${planId}.json`));
  if (!plan) {
    // Plan ids begin with their time, so the newest sort last.
    const recent = listJsonFiles(plansDir(engine.env))
      .map((file) => basename(file, ".json"))
      .sort()
      .reverse()
      .slice(0, 5);
    throw new UserError(
      `no plan ${planId}`,
      recent.length
        ? `recent plans, newest first: ${recent.join(", ")}; or make one with the plan tool`
        : "make one with the plan tool",
    );
  }
  return plan;
}
