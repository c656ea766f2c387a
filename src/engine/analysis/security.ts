/**
 * The source layer of the security audit: settings read from the .nix files as written, by their
 * full attribute path (nested sets and dotted paths alike, through mkIf/mkDefault/mkForce/mkMerge).
 * What a host really gets after the module system merges everything is the evaluated layer's job.
 */
import { shown } from "./parser.js";
import { callParts, flag, headName, isBoolVar, type Rule, type RuleContext } from "./rules/define.js";
import { type Bind, type Expr, staticAttrName, stringLiteralValue, unparen } from "./syntax.js";

/**
 * An attribute path: the segments one binding writes (`*` for one only known at evaluation) after
 * the path of the set around it. Sharing the outer part, rather than copying it into every
 * binding, keeps sets nested thousands deep from costing the square of their depth.
 */
export interface AttrPath {
  segments: string[];
  outer?: AttrPath;
}

export interface Assignment {
  path: AttrPath;
  value: Expr;
  bind: Bind;
}

/** The whole path, outermost segment first. */
export function pathSegments(path: AttrPath | undefined): string[] {
  const parts: string[][] = [];
  for (let p = path; p; p = p.outer) parts.push(p.segments);
  return parts.reverse().flat();
}

/** The last `n` segments (fewer when the path is shorter), read from the end. */
function lastSegments(path: AttrPath, n: number): string[] {
  const out: string[] = [];
  for (let p: AttrPath | undefined = path; p && out.length < n; p = p.outer)
    for (let i = p.segments.length - 1; i >= 0 && out.length < n; i--) out.unshift(p.segments[i] as string);
  return out;
}

const WRAPPERS = new Set([
  "mkIf",
  "mkDefault",
  "mkForce",
  "mkOverride",
  "mkOptionDefault",
  "mkBefore",
  "mkAfter",
]);

const cache = new WeakMap<Expr, Assignment[]>();

/** Every `path = value;` of the file with its full path from the outermost attribute set. */
export function assignments(ctx: RuleContext): Assignment[] {
  const cached = cache.get(ctx.ast);
  if (cached) return cached;
  const out: Assignment[] = [];
  cache.set(ctx.ast, out);
  const nested = new Set<Expr>();
  const src = ctx.source.text;
  const visitSet = (node: Expr, outer: AttrPath | undefined) => {
    if (node.kind !== "Attrs") return;
    nested.add(node);
    for (const b of node.bindings) {
      if (b.kind !== "Bind") continue;
      const path = { segments: b.path.map((n) => staticAttrName(src, n) ?? "*"), outer };
      out.push({ path, value: settingValue(b.value), bind: b });
      for (const inner of valuesOf(b.value)) visitSet(inner, path);
    }
  };
  /** `mkForce false` sets `false`: the value under the priority and condition wrappers. */
  const settingValue = (value: Expr): Expr => {
    const v = unparen(value);
    if (v.kind !== "Apply") return v;
    const { head, args } = callParts(v);
    const name = headName(src, head);
    return name && WRAPPERS.has(name) && args.length > 0 ? settingValue(args[args.length - 1] as Expr) : v;
  };
  const valuesOf = (value: Expr): Expr[] => {
    const v = settingValue(value);
    if (v.kind === "Attrs") return [v];
    if (v.kind !== "Apply") return [];
    const { head, args } = callParts(v);
    if (headName(src, head) === "mkMerge" && args.length === 1) {
      const list = unparen(args[0] as Expr);
      return list.kind === "List" ? list.items.flatMap(valuesOf) : [];
    }
    return [];
  };
  for (const node of ctx.nodes("Attrs")) if (!nested.has(node)) visitSet(node, undefined);
  return out;
}

function stringValue(ctx: RuleContext, node: Expr): string | undefined {
  const v = unparen(node);
  return v.kind === "String" ? stringLiteralValue(ctx.source.text, v) : undefined;
}

function endsWith(path: AttrPath, ...tail: string[]): boolean {
  const last = lastSegments(path, tail.length);
  return last.length === tail.length && tail.every((t, i) => last[i] === t);
}

/** A rule over assignments: `match` returns a message for a finding, or undefined. */
function settingRule(
  code: string,
  severity: "block" | "warn",
  summary: string,
  match: (a: Assignment, ctx: RuleContext) => string | undefined,
): Rule {
  return {
    code,
    severity,
    summary,
    check(ctx) {
      for (const a of assignments(ctx)) {
        const message = match(a, ctx);
        if (message) flag(ctx, this, a.bind, message);
      }
    },
  };
}

const lastIs = (a: Assignment, ...names: string[]) =>
  names.includes(a.path.segments[a.path.segments.length - 1] ?? "");
const pathText = (a: Assignment) => shown(pathSegments(a.path).join("."));

export const SECURITY_RULES: Rule[] = [
  settingRule("permit-root-login", "block", 'sshd `PermitRootLogin "yes"`', (a, ctx) =>
    lastIs(a, "PermitRootLogin", "permitRootLogin") && stringValue(ctx, a.value) === "yes"
      ? 'root may log in over ssh with a password; write `PermitRootLogin = "prohibit-password"` (keys only) or "no"'
      : undefined,
  ),
  settingRule("password-authentication", "warn", "sshd password authentication on", (a) =>
    lastIs(a, "PasswordAuthentication", "passwordAuthentication") && isBoolVar(a.value, true)
      ? "ssh accepts passwords (brute-force target); write `PasswordAuthentication = false` and use keys"
      : undefined,
  ),
  settingRule("firewall-disabled", "block", "`networking.firewall.enable = false`", (a) =>
    endsWith(a.path, "firewall", "enable") && isBoolVar(a.value, false)
      ? "the firewall is off, so every listening port is reachable; keep it on and open ports explicitly"
      : undefined,
  ),
  settingRule("open-firewall", "warn", "a service's `openFirewall = true`", (a) =>
    lastIs(a, "openFirewall") && isBoolVar(a.value, true)
      ? `\`${pathText(a)}\` opens the service's ports to every network; open them per interface (\`networking.firewall.interfaces.<if>.allowedTCPPorts\`) if only a LAN needs them`
      : undefined,
  ),
  settingRule("open-ports", "warn", "ports opened in the firewall", (a, ctx) => {
    if (!lastIs(a, "allowedTCPPorts", "allowedUDPPorts", "allowedTCPPortRanges", "allowedUDPPortRanges"))
      return undefined;
    const list = unparen(a.value);
    if (list.kind === "List" && list.items.length === 0) return undefined;
    const shown = ctx.source.slice(a.value.start, a.value.end).replace(/\s+/g, " ").slice(0, 60);
    return `\`${pathText(a)} = ${shown}\` opens ports to every network; check each is meant to be public`;
  }),
  settingRule("wheel-without-password", "warn", "`security.sudo.wheelNeedsPassword = false`", (a) =>
    lastIs(a, "wheelNeedsPassword") && isBoolVar(a.value, false)
      ? "any process of a wheel user becomes root without a password; keep `wheelNeedsPassword = true`"
      : undefined,
  ),
  settingRule("trusted-users", "warn", "non-root Nix trusted users", (a, ctx) => {
    if (!lastIs(a, "trusted-users", "trustedUsers")) return undefined;
    const list = unparen(a.value);
    if (list.kind !== "List") return undefined;
    const others = list.items.map((i) => stringValue(ctx, i) ?? "?").filter((u) => u !== "root");
    return others.length > 0
      ? `Nix trusted users (${shown(others.join(", "))}) are root-equivalent (they can import unsigned store paths); use \`allowed-users\` instead`
      : undefined;
  }),
  settingRule("service-runs-as-root", "warn", 'a systemd service with `User = "root"`', (a, ctx) =>
    endsWith(a.path, "serviceConfig", "User") && stringValue(ctx, a.value) === "root"
      ? `\`${shown(pathSegments(a.path).slice(0, -1).join("."))}\` runs as root; give it \`DynamicUser = true\` or its own \`User\``
      : undefined,
  ),
  settingRule(
    "service-without-user",
    "warn",
    "a systemd service with neither User nor DynamicUser",
    (a, ctx) => {
      if (!lastIs(a, "serviceConfig")) return undefined;
      const cfg = unparen(a.value);
      if (cfg.kind !== "Attrs") return undefined;
      const keys = cfg.bindings.flatMap((b) =>
        b.kind === "Bind" ? [staticAttrName(ctx.source.text, b.path[0] as Bind["path"][0])] : [],
      );
      return keys.includes("User") || keys.includes("DynamicUser")
        ? undefined
        : `\`${pathText(a)}\` sets no User or DynamicUser, so the service runs as root; add \`DynamicUser = true\` (or a dedicated \`User\`)`;
    },
  ),
];

export const SECURITY_CODES = SECURITY_RULES.map((r) => r.code);
