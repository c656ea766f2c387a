import { readFileSync } from "node:fs";
import { z } from "zod";
import { describePackageChange } from "../deploy/changes.js";
import type { ResourceFigures } from "../deploy/health.js";
import { type DeploymentRecord, DeploymentStore } from "../deploy/record.js";
import {
  type DeployResult,
  deployResultSchema,
  type HostDetails,
  validationCheckSchema,
} from "../deploy/schemas.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { packageFile } from "../package.js";
import { hostResultSchema } from "../schemas.js";
import { realPathOf } from "../trust.js";

/**
 * The deployment report, built only from what the deployment measured and recorded: phases and
 * their times, generations, package and unit changes, health before and after, failures with logs.
 */

const resourcesSchema = z.object({
  memTotalBytes: z.number().optional(),
  memAvailableBytes: z.number().optional(),
  nixDiskUsedPercent: z.number().optional(),
  nixDiskFreeBytes: z.number().optional(),
  load1: z.number().optional(),
  cpus: z.number().optional(),
});

export const reportSchema = z.object({
  id: z.string(),
  status: z.enum(["succeeded", "failed", "running"]),
  flake: z.string(),
  mode: z.string(),
  goal: z.string(),
  dryRun: z.boolean(),
  confirmTimeoutSec: z.number().describe("how long each host waited for the confirmation"),
  substituteOnDestination: z.boolean().describe("hosts fetched what they could from their own caches"),
  limits: z
    .object({ build: z.number(), copy: z.number(), activate: z.number(), evalChunk: z.number() })
    .optional()
    .describe("at most this many build processes, copies and activations at once; hosts per evaluation"),
  startedAt: z.string(),
  finishedAt: z.string(),
  totalMs: z.number(),
  checks: z.array(validationCheckSchema),
  waves: deployResultSchema.shape.waves,
  hosts: z.array(
    hostResultSchema(z.string(), {
      generationBefore: z.number().optional(),
      generationAfter: z.number().optional(),
      newSystem: z.string().optional(),
      phases: z.array(
        z.object({
          name: z.string(),
          durationMs: z.number().optional(),
          ok: z.boolean().optional(),
          detail: z.string().optional(),
        }),
      ),
      cache: z.string().optional().describe("the binary cache the host substituted its closure from"),
      packageChanges: z.array(z.string()),
      unitChanges: z.array(z.object({ unit: z.string(), action: z.string() })),
      resourcesBefore: resourcesSchema.optional(),
      resourcesAfter: resourcesSchema.optional(),
      notes: z.array(z.string()),
      logs: z.record(z.string(), z.array(z.string())).optional(),
      dryActivation: z.array(z.string()).optional(),
    }),
  ),
  recommendations: z.array(z.string()),
});
export type Report = z.infer<typeof reportSchema>;

export function buildReport(record: DeploymentRecord): Report {
  const stored = record.results as
    | { result?: DeployResult; details?: Record<string, HostDetails> }
    | undefined;
  const results = new Map((stored?.result?.hosts ?? []).map((h) => [h.host, h]));
  const hosts = Object.entries(record.hosts).map(([name, hostRecord]) => {
    const result = results.get(name);
    const details = stored?.details?.[name];
    return {
      host: name,
      outcome: hostRecord.outcome,
      generationBefore: hostRecord.generationBefore,
      generationAfter: hostRecord.generationAfter,
      newSystem: hostRecord.newSystem,
      phases: hostRecord.phases.map((p) => ({
        name: p.name,
        durationMs: p.durationMs,
        ok: p.ok,
        detail: p.detail,
      })),
      cache: hostRecord.cache,
      packageChanges: (details?.packages ?? []).map(describePackageChange),
      unitChanges: details?.units ?? [],
      resourcesBefore: details?.resourcesBefore,
      resourcesAfter: details?.resourcesAfter,
      error: result?.error,
      notes: result?.notes ?? [],
      logs: result?.logs,
      dryActivation: details?.dryActivation,
    };
  });
  const recommendations: string[] = [];
  for (const host of hosts) {
    const disk = host.resourcesAfter?.nixDiskUsedPercent ?? host.resourcesBefore?.nixDiskUsedPercent;
    if (disk !== undefined && disk >= 80)
      recommendations.push(
        `${host.host}: /nix is ${disk}% full; collect garbage (nix-collect-garbage --delete-older-than 14d)`,
      );
    if (host.outcome === "rolled-back")
      recommendations.push(`${host.host}: fix what made it roll back before deploying again`);
  }
  const started = Date.parse(record.createdAt);
  const finished = Date.parse(record.updatedAt);
  return {
    id: record.id,
    status: record.status,
    flake: record.request.flake,
    mode: record.request.mode,
    goal: record.request.goal,
    dryRun: record.request.dryRun,
    confirmTimeoutSec: record.request.confirmTimeoutSec,
    substituteOnDestination: record.request.substituteOnDestination ?? false,
    ...(record.limits ? { limits: record.limits } : {}),
    startedAt: record.createdAt,
    finishedAt: record.updatedAt,
    totalMs: Math.max(0, finished - started),
    checks: record.checks ?? [],
    ...(stored?.result?.waves ? { waves: stored.result.waves } : {}),
    hosts,
    recommendations,
  };
}

/**
 * The deployments of one flake, newest first. The state directory is the user's, shared by every
 * flake they deploy from this machine, so "latest" and the listing must pick this flake's: the
 * newest deployment overall may be another project's. Paths are compared after resolving links, as
 * the served flake is.
 */
function deploymentsOf(store: DeploymentStore, flake: string | undefined): DeploymentRecord[] {
  const all = store.list();
  if (flake === undefined) return all;
  const wanted = realPathOf(flake);
  return all.filter((record) => realPathOf(record.request.flake) === wanted);
}

/** The operation behind the CLI's report command: a deployment's report, the latest or by id. */
export async function showReport(engine: Engine, input: { id: string }): Promise<Report> {
  return loadReport(input.id, engine.env, engine.flake);
}

/**
 * A report by id (any flake's: an id is an explicit ask), or with "latest" the newest deployment of
 * `flake` (every flake's when undefined).
 */
export function loadReport(idOrLatest: string, env: NodeJS.ProcessEnv, flake?: string): Report {
  const store = new DeploymentStore(env);
  if (idOrLatest !== "latest") {
    const record = store.load(idOrLatest);
    if (!record)
      throw new UserError(
        `no deployment ${idOrLatest}`,
        "use an id from a deploy result or from the list of past deployments (nix-deploy://reports)",
      );
    return buildReport(record);
  }
  const record = deploymentsOf(store, flake)[0];
  if (!record) {
    const newestOther = flake === undefined ? undefined : store.list()[0];
    throw new UserError(
      flake === undefined ? "no deployment has run yet" : `no deployment of the flake ${flake} has run yet`,
      newestOther
        ? `deploy first; deployments of other flakes are read by id, the newest is ${newestOther.id} (of ${newestOther.request.flake})`
        : "deploy first",
    );
  }
  return buildReport(record);
}

export interface ReportSummary {
  id: string;
  flake: string;
  status: string;
  startedAt: string;
  hosts: string[];
  mode: string;
}

/** Past deployments, newest first: of `flake`, or of every flake when undefined. */
export function listReports(env: NodeJS.ProcessEnv, flake?: string): ReportSummary[] {
  return deploymentsOf(new DeploymentStore(env), flake).map((r) => ({
    id: r.id,
    flake: r.request.flake,
    status: r.status,
    startedAt: r.createdAt,
    hosts: Object.keys(r.hosts),
    mode: r.request.mode,
  }));
}

const seconds = (ms?: number) =>
  ms === undefined ? "?" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
const gib = (bytes?: number) => (bytes === undefined ? "?" : `${(bytes / 1024 ** 3).toFixed(1)} GiB`);

function describeResources(r?: ResourceFigures): string {
  if (!r) return "not measured";
  const mem =
    r.memTotalBytes && r.memAvailableBytes !== undefined
      ? `memory ${gib(r.memTotalBytes - r.memAvailableBytes)} / ${gib(r.memTotalBytes)}`
      : "memory ?";
  return `${mem}, /nix ${r.nixDiskUsedPercent ?? "?"}% used (${gib(r.nixDiskFreeBytes)} free), load ${r.load1 ?? "?"} on ${r.cpus ?? "?"} CPUs`;
}

const OUTCOME_LINE: Record<string, string> = {
  deployed: "✅ deployed",
  unchanged: "➖ no changes",
  "dry-run": "🔍 dry run",
  failed: "❌ failed",
  "rolled-back": "↩️ rolled back",
  pending: "⏳ not finished",
};

function hostSection(host: Report["hosts"][number]): string {
  const lines = [`## ${host.host}: ${OUTCOME_LINE[host.outcome] ?? host.outcome}`, ""];
  if (host.generationBefore !== undefined)
    lines.push(`Generation: ${host.generationBefore} → ${host.generationAfter ?? "?"}`, "");
  if (host.cache) lines.push(`Closure from the cache ${host.cache}`, "");
  if (host.error) lines.push(`**What failed:** ${host.error}`, "");
  lines.push(
    "Phases:",
    ...host.phases.map(
      (p) =>
        `- ${p.ok === false ? "✗" : "✓"} ${p.name} (${seconds(p.durationMs)})${p.ok === false && p.detail ? `: ${p.detail.split("\n")[0]}` : ""}`,
    ),
    "",
  );
  lines.push(
    host.packageChanges.length ? `Changes applied (${host.packageChanges.length}):` : "Changes applied: none",
  );
  lines.push(...host.packageChanges.map((c) => `- ${c}`), "");
  if (host.unitChanges.length)
    lines.push("Services affected:", ...host.unitChanges.map((u) => `- ${u.unit} (${u.action})`), "");
  lines.push(
    `Before: ${describeResources(host.resourcesBefore)}`,
    `After: ${describeResources(host.resourcesAfter)}`,
    "",
  );
  if (host.notes.length) lines.push("Notes:", ...host.notes.map((n) => `- ${n}`), "");
  for (const [unit, log] of Object.entries(host.logs ?? {}))
    lines.push(`journalctl -u ${unit}:`, "```", ...log, "```", "");
  if (host.dryActivation?.length) lines.push("Dry activation:", "```", ...host.dryActivation, "```", "");
  return lines.join("\n");
}

let template: string | undefined;

/** The report as markdown, from templates/report.md. */
export function renderReportMarkdown(report: Report): string {
  template ??= readFileSync(packageFile("templates/report.md"), "utf8");
  const statusLine =
    report.status === "succeeded"
      ? "✅ **Status: SUCCESS**"
      : report.status === "running"
        ? "⏳ **Status: RUNNING or INTERRUPTED**"
        : "❌ **Status: FAILED**";
  const values: Record<string, string> = {
    hosts: report.hosts.map((h) => h.host).join(", "),
    status_line: statusLine,
    id: report.id,
    mode: report.mode,
    goal: report.goal,
    dry_run: report.dryRun ? " (dry run)" : "",
    confirm_timeout: String(report.confirmTimeoutSec),
    substitute: report.substituteOnDestination ? ", hosts substitute from their caches" : "",
    limits: report.limits
      ? `\n| Limits | build ${report.limits.build}, copy ${report.limits.copy}, activate ${report.limits.activate} at once; evalChunk ${report.limits.evalChunk} hosts per evaluation |`
      : "",
    started: report.startedAt,
    total: seconds(report.totalMs),
    flake: report.flake,
    checks: report.checks.length
      ? report.checks
          .map(
            (c) =>
              `- ${c.status === "pass" ? "✓" : c.status === "warn" ? "⚠" : "✗"} ${c.check} (${seconds(c.durationMs)}): ${c.detail}`,
          )
          .join("\n")
      : `- none (${report.mode} mode)`,
    waves: report.waves
      ? `\n## Rollout\n\n${report.waves.map((w, i) => `${i + 1}. ${w.name}: ${w.outcome} (${w.hosts.join(", ")})`).join("\n")}\n`
      : "",
    host_sections: report.hosts.map(hostSection).join("\n"),
    recommendations: report.recommendations.length
      ? report.recommendations.map((r) => `- ${r}`).join("\n")
      : "- none",
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? "");
}
