import type { Engine } from "../engine.js";
import type { Host } from "../fleet/hosts.js";
import { type FailedUnit, parseFailedUnits, splitSections } from "../fleet/status.js";
import { hostCommand } from "../host/scripts.js";
import { connectionFailureReason } from "../remote/ssh.js";

/** Memory, disk and load of a host, taken before and after activation to compare. */
export interface ResourceFigures {
  memTotalBytes?: number;
  memAvailableBytes?: number;
  /** Use of the filesystem holding /nix. */
  nixDiskUsedPercent?: number;
  nixDiskFreeBytes?: number;
  load1?: number;
  cpus?: number;
}

export interface HealthReport {
  reachable: boolean;
  reason?: string;
  systemState?: string;
  failedUnits: FailedUnit[];
  /** Critical services (from the inventory) that are not active, with their state. */
  inactiveCritical: Array<{ unit: string; state: string }>;
  resources: ResourceFigures;
  /** `journalctl -u UNIT -n 50` of each failed or inactive critical unit. */
  logs: Record<string, string[]>;
}

/**
 * The host's health: health.sh's output read over ssh, or `output` when the activation's launch
 * already brought it (activation.sh launch with HEALTH), with the journal of troubled units.
 */
export async function checkHealth(
  engine: Engine,
  host: Host,
  options: { signal?: AbortSignal; withLogs?: boolean; output?: string } = {},
): Promise<HealthReport> {
  let output = options.output;
  if (output === undefined) {
    // Critical service names travel as arguments of the fixed script (health.sh).
    const result = await engine
      .connect(host)
      .run(hostCommand("health", "nix-deploy-health", host.criticalServices), {
        timeoutMs: 20_000,
        signal: options.signal,
      });
    if (result.connectionFailed) {
      return {
        reachable: false,
        reason: connectionFailureReason(result),
        failedUnits: [],
        inactiveCritical: [],
        resources: {},
        logs: {},
      };
    }
    output = result.stdout;
  }
  const sections = splitSections(output);
  const failedUnits = parseFailedUnits(sections.get("failed") ?? []);
  const inactiveCritical = (sections.get("critical") ?? [])
    .map((line) => {
      const [unit = "", state = "unknown"] = line.trim().split(/\s+/);
      return { unit, state };
    })
    .filter((entry) => entry.unit && entry.state !== "active");
  const report: HealthReport = {
    reachable: true,
    systemState: sections.get("state")?.[0]?.trim(),
    failedUnits,
    inactiveCritical,
    resources: parseResources(sections),
    logs: {},
  };
  const troubled = [...new Set([...failedUnits.map((u) => u.unit), ...inactiveCritical.map((u) => u.unit)])];
  if (options.withLogs !== false && troubled.length > 0) report.logs = await unitLogs(engine, host, troubled);
  return report;
}

export async function unitLogs(
  engine: Engine,
  host: Host,
  units: readonly string[],
): Promise<Record<string, string[]>> {
  // The system journal is readable by root (and the systemd-journal group), not any login user.
  const result = await engine
    .connect(host)
    .run(hostCommand("journal", "nix-deploy-journal", units), { timeoutMs: 20_000, root: true });
  if (result.connectionFailed) return {};
  const logs: Record<string, string[]> = {};
  let current: string | undefined;
  for (const line of result.stdout.split("\n")) {
    const marker = /^@@(.+)$/.exec(line);
    if (marker) {
      current = marker[1] as string;
      logs[current] = [];
    } else if (current && line.trim() !== "") {
      logs[current]?.push(line);
    }
  }
  return logs;
}

/** The resource sections of health.sh (also printed by the probe before a deployment). */
export function parseResources(sections: Map<string, string[]>): ResourceFigures {
  const figures: ResourceFigures = {};
  for (const line of sections.get("meminfo") ?? []) {
    const match = /^(MemTotal|MemAvailable):\s+(\d+) kB/.exec(line);
    if (match?.[1] === "MemTotal") figures.memTotalBytes = Number(match[2]) * 1024;
    if (match?.[1] === "MemAvailable") figures.memAvailableBytes = Number(match[2]) * 1024;
  }
  // df's last line: the one after its header (a probe of an older version sent only that line).
  const disk = sections.get("disk")?.at(-1)?.trim().split(/\s+/);
  if (disk && disk.length >= 5 && /^\d+$/.test(disk[3] as string)) {
    figures.nixDiskFreeBytes = Number(disk[3]) * 1024;
    figures.nixDiskUsedPercent = Number(String(disk[4]).replace("%", ""));
  }
  const load = sections.get("load")?.[0]?.trim().split(/\s+/)[0];
  if (load !== undefined) figures.load1 = Number(load);
  const cpus = sections.get("cpus")?.[0]?.trim();
  const cpuCount = cpus?.startsWith("online ") ? countCpus(cpus.slice("online ".length)) : Number(cpus);
  if (cpus && Number.isInteger(cpuCount) && cpuCount > 0) figures.cpus = cpuCount;
  return figures;
}

/** The processors in a kernel CPU list such as `0-3,6,8-9`; NaN when it is not one. */
export function countCpus(list: string): number {
  let count = 0;
  for (const range of list.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
    if (!match) return Number.NaN;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return Number.NaN;
    count += last - first + 1;
  }
  return count;
}

/** The health verdict: any failed unit or inactive critical service fails the deployment. */
export function judgeHealth(report: HealthReport): { ok: true } | { ok: false; reason: string } {
  if (!report.reachable) return { ok: false, reason: `host not reachable: ${report.reason}` };
  if (report.inactiveCritical.length > 0) {
    return {
      ok: false,
      reason: `critical service not active: ${report.inactiveCritical.map((u) => `${u.unit} (${u.state})`).join(", ")}`,
    };
  }
  if (report.failedUnits.length > 0) {
    return { ok: false, reason: `failed units: ${report.failedUnits.map((u) => u.unit).join(", ")}` };
  }
  return { ok: true };
}
