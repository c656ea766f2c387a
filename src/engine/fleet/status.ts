import type { Engine } from "../engine.js";
import { profileGeneration } from "../host/protocol.js";
import { hostCommand } from "../host/scripts.js";
import { mapLimit } from "../process.js";
import { connectionFailureReason, type RemoteResult } from "../remote/ssh.js";
import type { Host } from "./hosts.js";

export interface HostProbe {
  reachable: boolean;
  /** Target of `/run/current-system`, the system the host runs now. */
  currentSystem?: string;
  /** The generation number the system profile points at. */
  generation?: number;
  /** Why the host did not answer, in ssh's words. */
  reason?: string;
}

export interface Generation {
  number: number;
  /** As the host's `nix-env --list-generations` prints it (host-local time). */
  date: string;
  current: boolean;
  path?: string;
}

export interface FailedUnit {
  unit: string;
  load: string;
  active: string;
  sub: string;
  description: string;
}

export interface HostStatus extends HostProbe {
  generations: Generation[];
  /** `systemctl is-system-running`: running, degraded, starting, ... */
  systemState?: string;
  failedUnits: FailedUnit[];
  nixVersion?: string;
}

const PROBE_TIMEOUT_MS = 20_000;

/** The running system and the generation the profile points at (probe.sh). */
export async function probeHost(engine: Engine, host: Host, signal?: AbortSignal): Promise<HostProbe> {
  const result = await engine.connect(host).run(hostCommand("probe", "nix-deploy-probe", [host.profile]), {
    timeoutMs: PROBE_TIMEOUT_MS,
    signal,
  });
  if (result.connectionFailed) return { reachable: false, reason: connectionFailureReason(result) };
  const [current = "", profileLink = ""] = result.stdout.split("\n");
  return {
    reachable: true,
    currentSystem: current.trim() || undefined,
    generation: profileGeneration(profileLink),
  };
}

export function probeHosts(
  engine: Engine,
  hosts: readonly Host[],
  signal?: AbortSignal,
): Promise<HostProbe[]> {
  return mapLimit(hosts, engine.parallelism, (host) => probeHost(engine, host, signal));
}

/**
 * Everything `host_status` reports, gathered in one ssh round trip (host-status.sh). The script is
 * fixed text; the profile path travels as a positional argument, quoted by the remote runner.
 */
export async function hostStatus(engine: Engine, host: Host, signal?: AbortSignal): Promise<HostStatus> {
  const result = await engine
    .connect(host)
    .run(hostCommand("host-status", "nix-deploy-status", [host.profile]), {
      timeoutMs: PROBE_TIMEOUT_MS,
      signal,
    });
  if (result.connectionFailed) {
    return { reachable: false, reason: connectionFailureReason(result), generations: [], failedUnits: [] };
  }
  return parseStatusOutput(result, host.profile);
}

export function parseStatusOutput(result: Pick<RemoteResult, "stdout">, profile: string): HostStatus {
  const sections = splitSections(result.stdout);
  const currentSystem = sections.get("current")?.[0]?.trim() || undefined;
  const paths = new Map<number, string>();
  const linkPattern = new RegExp(`^${escapeRegExp(profile)}-(\\d+)-link (\\S+)$`);
  for (const line of sections.get("links") ?? []) {
    const match = linkPattern.exec(line.trim());
    if (match) paths.set(Number(match[1]), match[2] as string);
  }
  return {
    reachable: true,
    currentSystem,
    generations: parseGenerations(sections.get("generations") ?? [], paths),
    failedUnits: parseFailedUnits(sections.get("failed") ?? []),
    systemState: sections.get("state")?.[0]?.trim() || undefined,
    nixVersion: sections.get("nix")?.[0]?.trim() || undefined,
  };
}

/** `nix-env --list-generations`: `   12   2024-01-05 10:11:12   (current)`. */
export function parseGenerations(
  lines: readonly string[],
  paths: ReadonlyMap<number, string> = new Map(),
): Generation[] {
  const generations: Generation[] = [];
  for (const line of lines) {
    const match = /^\s*(\d+)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*(\(current\))?\s*$/.exec(line);
    if (!match) continue;
    const number = Number(match[1]);
    generations.push({
      number,
      date: match[2] as string,
      current: match[3] !== undefined,
      path: paths.get(number),
    });
  }
  return generations;
}

/** `systemctl --failed --no-legend --plain`: `UNIT LOAD ACTIVE SUB DESCRIPTION...`. */
export function parseFailedUnits(lines: readonly string[]): FailedUnit[] {
  const units: FailedUnit[] = [];
  for (const raw of lines) {
    const line = raw.replace(/^[●*\s]+/, "").trim();
    const [unit, load, active, sub, ...description] = line.split(/\s+/);
    if (!unit || !load || !active || !sub) continue;
    units.push({ unit, load, active, sub, description: description.join(" ") });
  }
  return units;
}

export function splitSections(stdout: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    const marker = /^@@(\w+)$/.exec(line);
    if (marker) {
      current = [];
      sections.set(marker[1] as string, current);
    } else if (current && line.trim() !== "") {
      current.push(line);
    }
  }
  return sections;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
