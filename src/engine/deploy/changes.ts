/** What a new system changes against the running one: package versions and systemd units. */

export interface PackageChange {
  name: string;
  /** Versions before; empty when the package is new (Nix prints ∅). */
  oldVersions: string[];
  /** Versions after; empty when the package is removed. */
  newVersions: string[];
  /** Closure size change in bytes, when Nix printed one (it does from 8 KiB on). */
  sizeDelta?: number;
  kind: "upgraded" | "added" | "removed" | "rebuilt";
}

export type UnitAction = "start" | "stop" | "restart" | "reload" | "changed-no-restart";

export interface UnitChange {
  unit: string;
  action: UnitAction;
}

const ANSI = /\x1b\[[0-9;]*m/g;
const SIZE = /^([+-])(\d+(?:\.\d+)?) (B|KiB|MiB|GiB|TiB)$/;
const UNIT_BYTES: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[2]) * (UNIT_BYTES[match[3] as string] as number);
  return Math.round(match[1] === "-" ? -value : value);
}

function parseVersions(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === "∅") return [];
  return trimmed.split(", ").map((v) => (v === "ε" ? "" : v));
}

/**
 * `nix store diff-closures OLD NEW`: `name: 1.0 → 1.1, +13.9 KiB`, `name: ∅ → 1.0`, `name: +9.0 KiB`;
 * ∅ is absent, ε an empty version; colours stripped. Identical closures print nothing.
 */
export function parseDiffClosures(output: string): PackageChange[] {
  const changes: PackageChange[] = [];
  for (const raw of output.replace(ANSI, "").split("\n")) {
    const line = raw.trim();
    const colon = line.indexOf(": ");
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    let rest = line.slice(colon + 2);
    let sizeDelta: number | undefined;
    const lastComma = rest.lastIndexOf(", ");
    const tail = lastComma >= 0 ? rest.slice(lastComma + 2) : rest;
    if (parseSize(tail) !== undefined) {
      sizeDelta = parseSize(tail);
      rest = lastComma >= 0 ? rest.slice(0, lastComma) : "";
    }
    if (!rest.includes("→")) {
      changes.push({ name, oldVersions: [], newVersions: [], sizeDelta, kind: "rebuilt" });
      continue;
    }
    const [before = "", after = ""] = rest.split("→");
    const oldVersions = parseVersions(before);
    const newVersions = parseVersions(after);
    const kind = oldVersions.length === 0 ? "added" : newVersions.length === 0 ? "removed" : "upgraded";
    changes.push({ name, oldVersions, newVersions, sizeDelta, kind });
  }
  return changes;
}

/** Lines `ACTION UNIT`, the `@@units` section of changes.sh (src/engine/host/scripts/). */
export function parseUnitChanges(lines: readonly string[]): UnitChange[] {
  const actions = new Set<UnitAction>(["start", "stop", "restart", "reload", "changed-no-restart"]);
  const changes: UnitChange[] = [];
  for (const line of lines) {
    const [action, unit] = line.trim().split(/\s+/);
    if (action && unit && actions.has(action as UnitAction))
      changes.push({ unit, action: action as UnitAction });
  }
  return changes;
}

/** One line per change, as a person reads it: `firefox: 120.0 → 121.0`. */
export function describePackageChange(change: PackageChange): string {
  const show = (versions: string[]) => (versions.length ? versions.join(", ") : "∅");
  return change.kind === "rebuilt"
    ? `${change.name}: rebuilt`
    : `${change.name}: ${show(change.oldVersions)} → ${show(change.newVersions)}`;
}

/** What changes.sh prints: `@@packages` (nix store diff-closures), then `@@units`. */
export function parseChanges(output: string): { packages: PackageChange[]; units: UnitChange[] } {
  const [packagesPart = "", unitsPart = ""] = output.split("@@units");
  return {
    packages: parseDiffClosures(packagesPart.replace("@@packages", "")),
    units: parseUnitChanges(unitsPart.split("\n")),
  };
}
