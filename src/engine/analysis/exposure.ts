/**
 * A service's exposure score, 0 (locked down) to 10 (fully exposed), from its evaluated
 * `serviceConfig`, in the manner of `systemd-analyze security`: each property has a weight and a
 * badness in [0, range]; the score is 10 × Σ(weight × badness / range) / Σ weight. Weights follow
 * systemd's assessor table (src/analyze/analyze-security.c); properties that need a running unit
 * (the effective UMask, KeyringMode, NotifyAccess defaults) are left out, so scores can differ from
 * systemd's by a few tenths — what matters here is the comparison of a service with itself.
 */

export type ServiceConfig = Record<string, unknown>;

interface Assessor {
  id: string;
  weight: number;
  range: number;
  badness(cfg: ServiceConfig): number;
}

function truthy(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return ["1", "yes", "true", "on"].includes(v.trim().toLowerCase());
  return false;
}

/** A setting as a list of words: Nix lists, or space-separated strings. */
function words(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.flatMap((x) => String(x).split(/\s+/)).filter(Boolean);
  return String(v).split(/\s+/).filter(Boolean);
}

const bool = (id: string, weight: number): Assessor => ({
  id,
  weight,
  range: 1,
  badness: (cfg) => (truthy(cfg[id]) ? 0 : 1),
});

/** An allow-list setting (`X=a b`) or a deny-list (`X=~a b`): is `item` still permitted? */
function permitted(setting: string[] | undefined, matches: (word: string) => boolean): boolean {
  if (!setting || setting.length === 0) return true;
  const deny = setting[0]?.startsWith("~") ?? false;
  const listed = setting.some((w) => matches(w.replace(/^~/, "")));
  return deny ? !listed : listed;
}

const CAPABILITIES: Array<[string, number]> = [
  ["CAP_SYS_ADMIN", 1500],
  ["CAP_SETUID CAP_SETGID CAP_SETPCAP", 1500],
  ["CAP_SYS_PTRACE", 1500],
  ["CAP_SYS_TIME", 1000],
  ["CAP_NET_ADMIN", 1500],
  ["CAP_SYS_RAWIO", 1000],
  ["CAP_SYS_MODULE", 1500],
  ["CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE", 500],
  ["CAP_SYSLOG", 1500],
  ["CAP_SYS_NICE CAP_SYS_RESOURCE", 500],
  ["CAP_MKNOD", 500],
  ["CAP_CHOWN CAP_FSETID CAP_SETFCAP", 1000],
  ["CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_IPC_OWNER", 1000],
  ["CAP_KILL", 500],
  ["CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW", 500],
  ["CAP_SYS_BOOT", 100],
  ["CAP_MAC_ADMIN CAP_MAC_OVERRIDE", 100],
  ["CAP_LINUX_IMMUTABLE", 75],
  ["CAP_IPC_LOCK", 50],
  ["CAP_SYS_CHROOT", 50],
  ["CAP_BLOCK_SUSPEND", 25],
  ["CAP_WAKE_ALARM", 25],
  ["CAP_LEASE", 25],
  ["CAP_SYS_TTY_CONFIG", 25],
  ["CAP_SYS_PACCT", 25],
  ["CAP_BPF", 1500],
];

const NAMESPACES: Array<[string, number]> = [
  ["user", 1500],
  ["mnt", 500],
  ["ipc", 500],
  ["pid", 500],
  ["cgroup", 500],
  ["net", 500],
  ["uts", 100],
];

const ADDRESS_FAMILIES: Array<[string, number, (af: string) => boolean]> = [
  ["AF_(INET|INET6)", 1500, (af) => af === "AF_INET" || af === "AF_INET6"],
  ["AF_UNIX", 25, (af) => af === "AF_UNIX"],
  ["AF_NETLINK", 200, (af) => af === "AF_NETLINK"],
  ["AF_PACKET", 1000, (af) => af === "AF_PACKET"],
  ["other", 1250, (af) => !["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK", "AF_PACKET"].includes(af)],
];

const SYSCALL_GROUPS: Array<[string, number]> = [
  ["@swap", 1000],
  ["@obsolete", 250],
  ["@clock", 1000],
  ["@cpu-emulation", 250],
  ["@debug", 1000],
  ["@mount", 1000],
  ["@module", 1000],
  ["@raw-io", 1000],
  ["@reboot", 1000],
  ["@privileged", 700],
  ["@resources", 700],
];

function runsAsRoot(cfg: ServiceConfig): boolean {
  if (truthy(cfg.DynamicUser)) return false;
  const user = cfg.User === undefined || cfg.User === null ? "" : String(cfg.User);
  return user === "" || user === "root" || user === "0";
}

const ASSESSORS: Assessor[] = [
  {
    id: "User=/DynamicUser=",
    weight: 2000,
    range: 10,
    badness: (cfg) => (runsAsRoot(cfg) ? 10 : String(cfg.User) === "nobody" ? 9 : 0),
  },
  bool("PrivateDevices", 1000),
  bool("PrivateMounts", 1000),
  bool("PrivateNetwork", 2500),
  bool("PrivateTmp", 1000),
  bool("PrivateUsers", 1000),
  bool("ProtectControlGroups", 1000),
  bool("ProtectKernelModules", 1000),
  bool("ProtectKernelTunables", 1000),
  bool("ProtectKernelLogs", 1000),
  bool("ProtectClock", 1000),
  bool("ProtectHostname", 50),
  bool("NoNewPrivileges", 1000),
  bool("RestrictRealtime", 500),
  bool("RestrictSUIDSGID", 1000),
  bool("LockPersonality", 100),
  bool("MemoryDenyWriteExecute", 100),
  {
    id: "RemoveIPC",
    weight: 100,
    range: 1,
    badness: (cfg) => (runsAsRoot(cfg) || truthy(cfg.RemoveIPC) ? 0 : 1),
  },
  { id: "Delegate", weight: 100, range: 1, badness: (cfg) => (truthy(cfg.Delegate) ? 1 : 0) },
  {
    id: "ProtectHome",
    weight: 1000,
    range: 10,
    badness: (cfg) => {
      const v = String(cfg.ProtectHome ?? "").toLowerCase();
      return truthy(cfg.ProtectHome) ? 0 : v === "read-only" ? 5 : v === "tmpfs" ? 1 : 10;
    },
  },
  {
    id: "ProtectSystem",
    weight: 1000,
    range: 10,
    badness: (cfg) => {
      const v = String(cfg.ProtectSystem ?? "").toLowerCase();
      return v === "strict" ? 0 : v === "full" ? 3 : truthy(cfg.ProtectSystem) ? 5 : 10;
    },
  },
  {
    id: "RootDirectory=/RootImage=",
    weight: 200,
    range: 1,
    badness: (cfg) => (cfg.RootDirectory || cfg.RootImage ? 0 : 1),
  },
  {
    id: "SystemCallArchitectures",
    weight: 1000,
    range: 10,
    badness: (cfg) => (words(cfg.SystemCallArchitectures)?.includes("native") ? 0 : 10),
  },
  {
    id: "ProtectProc",
    weight: 1000,
    range: 3,
    badness: (cfg) => {
      const v = String(cfg.ProtectProc ?? "default");
      return v === "invisible" || v === "noaccess" ? 0 : v === "ptraceable" ? 2 : 3;
    },
  },
  { id: "ProcSubset", weight: 10, range: 1, badness: (cfg) => (cfg.ProcSubset === "pid" ? 0 : 1) },
  {
    id: "AmbientCapabilities",
    weight: 500,
    range: 1,
    badness: (cfg) => ((words(cfg.AmbientCapabilities)?.length ?? 0) > 0 ? 1 : 0),
  },
  {
    id: "IPAddressDeny",
    weight: 1000,
    range: 10,
    badness: (cfg) => (words(cfg.IPAddressDeny)?.includes("any") ? 0 : 10),
  },
  {
    id: "DeviceAllow",
    weight: 1000,
    range: 10,
    badness: (cfg) =>
      truthy(cfg.PrivateDevices) || ["closed", "strict"].includes(String(cfg.DevicePolicy)) ? 0 : 10,
  },
  ...CAPABILITIES.map(
    ([caps, weight]): Assessor => ({
      id: `CapabilityBoundingSet=~${caps.split(" ").join("|")}`,
      weight,
      range: 1,
      badness: (cfg) => {
        const set = words(cfg.CapabilityBoundingSet);
        return caps.split(" ").some((cap) => permitted(set, (w) => w === cap)) ? 1 : 0;
      },
    }),
  ),
  ...NAMESPACES.map(
    ([ns, weight]): Assessor => ({
      id: `RestrictNamespaces=~${ns}`,
      weight,
      range: 1,
      badness: (cfg) => {
        const v = cfg.RestrictNamespaces;
        if (v === undefined || v === null || v === false) return 1;
        if (v === true) return 0;
        return permitted(words(v), (w) => w === ns) ? 1 : 0;
      },
    }),
  ),
  ...ADDRESS_FAMILIES.map(
    ([label, weight, matches]): Assessor => ({
      id: `RestrictAddressFamilies=~${label}`,
      weight,
      range: 1,
      badness: (cfg) => {
        const set = words(cfg.RestrictAddressFamilies);
        if (!set || set.length === 0) return 1;
        if (set[0] === "none") return 0;
        return permitted(set, matches) ? 1 : 0;
      },
    }),
  ),
  ...SYSCALL_GROUPS.map(
    ([group, weight]): Assessor => ({
      id: `SystemCallFilter=~${group}`,
      weight,
      range: 1,
      badness: (cfg) => (permitted(words(cfg.SystemCallFilter), (w) => w === group) ? 1 : 0),
    }),
  ),
];

/** The serviceConfig keys the score reads; the evaluation asks for only these. */
export const ASSESSED_KEYS = [
  "User",
  "DynamicUser",
  "PrivateDevices",
  "PrivateMounts",
  "PrivateNetwork",
  "PrivateTmp",
  "PrivateUsers",
  "ProtectControlGroups",
  "ProtectKernelModules",
  "ProtectKernelTunables",
  "ProtectKernelLogs",
  "ProtectClock",
  "ProtectHostname",
  "NoNewPrivileges",
  "RestrictRealtime",
  "RestrictSUIDSGID",
  "LockPersonality",
  "MemoryDenyWriteExecute",
  "RemoveIPC",
  "Delegate",
  "ProtectHome",
  "ProtectSystem",
  "RootDirectory",
  "RootImage",
  "SystemCallArchitectures",
  "ProtectProc",
  "ProcSubset",
  "AmbientCapabilities",
  "IPAddressDeny",
  "DevicePolicy",
  "CapabilityBoundingSet",
  "RestrictNamespaces",
  "RestrictAddressFamilies",
  "SystemCallFilter",
];

export interface Exposure {
  /** 0.0 to 10.0, one decimal. */
  score: number;
  /** The heaviest properties still open, for the message. */
  worst: string[];
}

export function exposureOf(cfg: ServiceConfig): Exposure {
  let sum = 0;
  let weights = 0;
  const open: Array<[string, number]> = [];
  for (const a of ASSESSORS) {
    const bad = Math.min(a.range, Math.max(0, a.badness(cfg)));
    sum += (a.weight * bad) / a.range;
    weights += a.weight;
    if (bad > 0) open.push([a.id, (a.weight * bad) / a.range]);
  }
  open.sort((a, b) => b[1] - a[1]);
  return { score: Math.round((100 * sum) / weights) / 10, worst: open.slice(0, 3).map(([id]) => id) };
}

/** systemd-analyze's words for a score. */
export function exposureLevel(score: number): "OK" | "MEDIUM" | "EXPOSED" | "UNSAFE" {
  return score <= 4 ? "OK" : score <= 7 ? "MEDIUM" : score <= 9 ? "EXPOSED" : "UNSAFE";
}
