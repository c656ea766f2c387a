/**
 * The security audit: the source layer (settings as written, see security.ts) and the evaluated
 * layer — each host's real firewall and systemd services after the module system has merged
 * everything, from `nix eval --json`, with an exposure score per service. Evaluated findings are
 * only about change: a port open now and not at the git base, a service new or more exposed than at
 * the base. What was already there is counted, not flagged, so the audit of a deployment speaks of
 * what the deployment changes.
 */
import { relative } from "node:path";
import { z } from "zod";
import { HostEvaluation, HostNotInFlake } from "../deploy/evaluation.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { assertFlakeDir, flakeHostNames } from "../fleet/hosts.js";
import { mapLimit } from "../process.js";
import { analyzeFlake, countBySeverity, findingSchema, limitInput, skippedSchema } from "./analyze.js";
import { ASSESSED_KEYS, type Exposure, exposureLevel, exposureOf, type ServiceConfig } from "./exposure.js";
import { type FileScope, gitRefSchema } from "./files.js";

const SOURCE_LIMIT = 5;

import { operation, quietHooks } from "../hooks.js";
import { servedFlake } from "../trust.js";
import { SECURITY_CODES } from "./security.js";

const FIREWALL_APPLY =
  "f: { enable = f.enable or true; tcp = f.allowedTCPPorts or [ ]; udp = f.allowedUDPPorts or [ ]; " +
  "tcpRanges = f.allowedTCPPortRanges or [ ]; udpRanges = f.allowedUDPPortRanges or [ ]; " +
  "interfaces = builtins.mapAttrs (_: i: { tcp = i.allowedTCPPorts or [ ]; udp = i.allowedUDPPorts or [ ]; }) (f.interfaces or { }); }";

const SERVICES_APPLY = `s: builtins.mapAttrs (_: v: builtins.intersectAttrs { ${ASSESSED_KEYS.map((k) => `${k} = null;`).join(" ")} } (v.serviceConfig or { })) s`;

interface EvaluatedFirewall {
  enable: boolean;
  tcp: number[];
  udp: number[];
  tcpRanges: Array<{ from: number; to: number }>;
  udpRanges: Array<{ from: number; to: number }>;
  interfaces: Record<string, { tcp: number[]; udp: number[] }>;
}

interface HostState {
  firewallEnabled: boolean;
  tcp: string[];
  udp: string[];
  services: Map<string, Exposure>;
}

function portsOf(fw: EvaluatedFirewall, proto: "tcp" | "udp"): string[] {
  const ranges = proto === "tcp" ? fw.tcpRanges : fw.udpRanges;
  const out = [
    ...fw[proto].map(String),
    ...ranges.map((r) => `${r.from}-${r.to}`),
    ...Object.entries(fw.interfaces).flatMap(([iface, i]) => i[proto].map((p) => `${iface}:${p}`)),
  ];
  return [...new Set(out)].sort(
    (a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || a.localeCompare(b),
  );
}

/**
 * What the audit reads of each host's evaluated configuration, all hosts of a chunk at once. A
 * deployment evaluates these beside each host's system, so that its audit evaluates nothing again.
 */
export const AUDITED = {
  firewall: `c: (${FIREWALL_APPLY}) c.config.networking.firewall`,
  services: `c: (${SERVICES_APPLY}) c.config.systemd.services`,
};

async function auditedState(evaluation: HostEvaluation, host: string): Promise<HostState> {
  const { firewall, services } = (await evaluation.values(host)) as {
    firewall: EvaluatedFirewall;
    services: Record<string, ServiceConfig>;
  };
  return {
    firewallEnabled: firewall.enable !== false,
    tcp: portsOf(firewall, "tcp"),
    udp: portsOf(firewall, "udp"),
    services: new Map(Object.entries(services).map(([name, cfg]) => [name, exposureOf(cfg)])),
  };
}

/** The flake as it was at a git ref: `git+file://REPO?rev=SHA[&dir=SUBDIR]`, and the commit. */
async function flakeAtRef(
  flake: string,
  ref: string,
): Promise<{ flakeRef: string; commit: string } | { note: string }> {
  const { simpleGit } = await import("simple-git");
  const git = simpleGit(flake);
  let top: string;
  try {
    top = (await git.raw(["rev-parse", "--show-toplevel"])).trim();
  } catch {
    return {
      note: `${flake} is not a git repository: nothing can be compared, so nothing is flagged as new`,
    };
  }
  let commit: string;
  try {
    commit = (await git.raw(["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`])).trim();
  } catch {
    throw new UserError(
      `the git ref ${ref} does not exist in ${top}`,
      "pass a branch, tag or commit of the flake's repository as `base` (default HEAD needs at least one commit)",
    );
  }
  const dir = relative(top, flake);
  return {
    flakeRef: `git+file://${top}?rev=${commit}${dir ? `&dir=${encodeURIComponent(dir)}` : ""}`,
    commit,
  };
}

export const hostFindingSchema = z.object({
  code: z.string(),
  severity: z.enum(["block", "warn"]),
  host: z.string(),
  message: z.string(),
});
type HostFinding = z.infer<typeof hostFindingSchema>;

const hostAuditSchema = z.object({
  host: z.string(),
  firewallEnabled: z.boolean().optional(),
  openTCPPorts: z.array(z.string()).optional(),
  openUDPPorts: z.array(z.string()).optional(),
  newPorts: z.array(z.string()).optional().describe("`tcp/8080`, `udp/51820`: open now, closed at the base"),
  services: z.number().int().optional(),
  exposedServices: z.number().int().optional().describe("services scoring above 7 (EXPOSED or UNSAFE)"),
  findings: z.array(hostFindingSchema),
  error: z.string().optional().describe("why this host could not be evaluated"),
});

export const securityAuditInput = {
  hosts: z
    .array(z.string().min(1))
    .optional()
    .describe("hosts to evaluate (default: every nixosConfigurations host)"),
  base: gitRefSchema
    .optional()
    .describe("git ref to compare with; only changes since it are flagged as new (default HEAD)"),
  evaluate: z
    .boolean()
    .optional()
    .describe("also evaluate each host's configuration (default true); false: source layer only"),
  limit: limitInput(SOURCE_LIMIT),
};

export const securityAuditResultSchema = z.object({
  flake: z.string(),
  base: z.object({ ref: z.string(), commit: z.string().optional(), note: z.string().optional() }),
  source: z.object({
    filesScanned: z.number().int(),
    counts: z.object({ block: z.number().int(), warn: z.number().int() }),
    findings: z.array(findingSchema).describe("the first source findings"),
    skipped: z.array(skippedSchema),
  }),
  hosts: z.array(hostAuditSchema),
  counts: z.object({ block: z.number().int(), warn: z.number().int() }),
  summary: z.string(),
});
export type SecurityAuditResult = z.infer<typeof securityAuditResultSchema>;

const SCORE_STEP = 0.5;

function compareHost(
  host: string,
  now: HostState,
  base: HostState | undefined,
  baseLabel: string,
): HostFinding[] {
  const findings: HostFinding[] = [];
  if (!now.firewallEnabled && (base === undefined || base.firewallEnabled))
    findings.push({
      code: "firewall-turned-off",
      severity: "block",
      host,
      message: `${host}: the firewall is off${base ? ` (it was on at ${baseLabel})` : ""}; every listening port is reachable`,
    });
  if (base) {
    for (const proto of ["tcp", "udp"] as const) {
      const added = now[proto].filter((p) => !base[proto].includes(p));
      if (added.length > 0)
        findings.push({
          code: "new-open-port",
          severity: "warn",
          host,
          message: `${host}: ${proto.toUpperCase()} ${added.join(", ")} open now, closed at ${baseLabel}; check each is meant to be reachable from every network`,
        });
    }
  }
  for (const [name, exposure] of now.services) {
    const before = base?.services.get(name);
    const level = exposureLevel(exposure.score);
    const advice = `tighten ${exposure.worst.join(", ")}`;
    if (base && !before && exposure.score > 7)
      findings.push({
        code: "new-unhardened-service",
        severity: "warn",
        host,
        message: `${host}: new service ${name} scores ${exposure.score.toFixed(1)} ${level}; ${advice} (DynamicUser = true, ProtectSystem = "strict", PrivateTmp, NoNewPrivileges...)`,
      });
    else if (before && exposure.score - before.score >= SCORE_STEP)
      findings.push({
        code: "service-exposure-increased",
        severity: "warn",
        host,
        message: `${host}: ${name} went from ${before.score.toFixed(1)} to ${exposure.score.toFixed(1)} ${level} since ${baseLabel}; ${advice}`,
      });
  }
  return findings;
}

/** security_audit's input: which files, which hosts to evaluate against which base, how many findings. */
export type SecurityAuditInput = FileScope & {
  flake?: string;
  hosts?: string[];
  base?: string;
  evaluate?: boolean;
  limit?: number;
  /**
   * The hosts as the calling deployment already evaluated them (with AUDITED among the
   * attributes): the audit reads the current configuration from it instead of evaluating again.
   */
  evaluation?: HostEvaluation;
};

export const securityAudit = operation<SecurityAuditInput, SecurityAuditResult>(
  async (engine, input, hooks) => {
    const flake = servedFlake(engine, input.flake);
    // hosts and base choose what the evaluated layer compares; without it they would do nothing.
    const evaluatedOnly = (["hosts", "base"] as const).filter((field) => input[field] !== undefined);
    if (input.evaluate === false && evaluatedOnly.length)
      throw new UserError(
        `${evaluatedOnly.join(" and ")} only apply to the evaluated layer, which evaluate: false turns off`,
        "leave out evaluate: false to compare the hosts, or leave them out to audit the source only",
      );
    // The progress callback counts hosts (below); the files are not counted with them.
    const collected = await analyzeFlake(
      engine,
      { ...input, flake },
      { ruleSet: "security" },
      quietHooks({ signal: hooks.signal }),
    );
    const sourceFindings = collected.analyses.flatMap((a) => [...a.syntaxErrors, ...a.findings]);
    const sourceCounts = countBySeverity(sourceFindings);

    const baseRef = input.base ?? "HEAD";
    const hosts: SecurityAuditResult["hosts"] = [];
    let base: SecurityAuditResult["base"] = { ref: baseRef };
    if (input.evaluate !== false) {
      assertFlakeDir(flake);
      const at = await flakeAtRef(flake, baseRef);
      base = "note" in at ? { ref: baseRef, note: at.note } : { ref: baseRef, commit: at.commit };
      const names = await flakeHostNames(engine, flake, hooks.signal);
      const unknown = (input.hosts ?? []).filter((h) => !names.includes(h));
      if (unknown.length > 0)
        throw new UserError(
          `no nixosConfigurations for ${unknown.join(", ")} in ${flake}`,
          `choose among: ${names.join(", ") || "(none)"}`,
        );
      const selected = input.hosts ?? names;
      const baseLabel = "commit" in at ? `${baseRef} (${at.commit.slice(0, 7)})` : baseRef;
      let done = 0;
      const options = { attributes: AUDITED, signal: hooks.signal };
      const current = input.evaluation ?? new HostEvaluation(engine, flake, selected, options);
      const past = "flakeRef" in at ? new HostEvaluation(engine, at.flakeRef, selected, options) : undefined;
      hosts.push(
        ...(await mapLimit(selected, engine.parallelism, async (host) => {
          try {
            const now = await auditedState(current, host);
            // A host added since the base has no past: everything about it is new.
            const then = past
              ? await auditedState(past, host).catch((error: unknown) => {
                  if (!(error instanceof HostNotInFlake)) throw error;
                  return { firewallEnabled: true, tcp: [], udp: [], services: new Map<string, Exposure>() };
                })
              : undefined;
            const findings = compareHost(host, now, then, baseLabel);
            return {
              host,
              firewallEnabled: now.firewallEnabled,
              openTCPPorts: now.tcp,
              openUDPPorts: now.udp,
              newPorts: then
                ? [
                    ...now.tcp.filter((p) => !then.tcp.includes(p)).map((p) => `tcp/${p}`),
                    ...now.udp.filter((p) => !then.udp.includes(p)).map((p) => `udp/${p}`),
                  ]
                : [],
              services: now.services.size,
              exposedServices: [...now.services.values()].filter((e) => e.score > 7).length,
              findings,
            };
          } catch (error) {
            if (!(error instanceof UserError)) throw error;
            return { host, findings: [], error: error.message.split("\n").slice(0, 6).join("\n") };
          } finally {
            hooks.progress(`evaluated ${host}`, ++done, selected.length);
          }
        })),
      );
    }

    const hostFindings = hosts.flatMap((h) => h.findings);
    const counts = {
      block: sourceCounts.block + hostFindings.filter((f) => f.severity === "block").length,
      warn: sourceCounts.warn + hostFindings.filter((f) => f.severity === "warn").length,
    };
    const failed = hosts.filter((h) => h.error).map((h) => h.host);
    const newPorts = hosts.reduce((n, h) => n + (h.newPorts?.length ?? 0), 0);
    const newServices = hostFindings.filter((f) => f.code !== "new-open-port").length;
    return {
      flake,
      base,
      source: {
        filesScanned: collected.analyses.length,
        counts: { block: sourceCounts.block, warn: sourceCounts.warn },
        findings: sourceCounts.ordered.slice(0, input.limit ?? SOURCE_LIMIT),
        skipped: collected.skipped,
      },
      hosts,
      counts,
      summary:
        `source: ${sourceCounts.block} blocking, ${sourceCounts.warn} warnings in ${collected.analyses.length} files` +
        (input.evaluate === false
          ? ""
          : `; ${hosts.length} hosts evaluated against ${base.commit ? `${baseRef} (${base.commit.slice(0, 7)})` : baseRef}: ` +
            `${newPorts} new open ports, ${newServices} firewall/service regressions` +
            (failed.length ? `; could not evaluate ${failed.join(", ")}` : "")),
    };
  },
);

export { SECURITY_CODES };
