/**
 * Anti-pattern rules about what ends up in the world-readable Nix store: secret-looking files read
 * or referenced at evaluation, clear-text passwords, and hard-coded store paths.
 */

import { shown } from "../parser.js";
import { type Expr, staticAttrName, stringLiteralValue, unparen } from "../syntax.js";
import { allBindings, flag, type Rule, type RuleContext, textOf } from "./define.js";

/** File names that look like key material or credentials. `.nix` files never do. */
const SECRET_NAME =
  /\.(age|key|pem|p12|pfx|jks|keystore)$|\.sops(\.[a-z]+)?$|^id_(rsa|dsa|ecdsa|ed25519)$|secret|token|password|passwd|credential|private/i;

export function looksSecret(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return !/\.nix$/i.test(base) && SECRET_NAME.test(base);
}

/** Encrypted secrets (agenix, sops-nix) are meant to be in the store; only reading them is wrong. */
function looksEncrypted(name: string): boolean {
  return /\.age$/i.test(name) || /\.sops(\.[a-z]+)?$/i.test(name) || /secrets?\.(ya?ml|json)$/i.test(name);
}

/** Whether an offset lies in any of the ranges (which may nest or overlap). */
function covering(ranges: Array<{ start: number; end: number }>): (offset: number) => boolean {
  const merged: Array<{ start: number; end: number }> = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ start: r.start, end: r.end });
  }
  return (offset) => {
    let lo = 0;
    let hi = merged.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((merged[mid] as { end: number }).end <= offset) lo = mid + 1;
      else hi = mid;
    }
    const range = merged[lo];
    return range !== undefined && range.start <= offset;
  };
}

function literalText(ctx: RuleContext, node: Expr): string | undefined {
  const inner = unparen(node);
  if (inner.kind === "Path") return textOf(ctx, inner);
  if (inner.kind === "String") {
    const value = stringLiteralValue(ctx.source.text, inner);
    if (value !== undefined) return value;
    // `"${./secret.key}"`: the path inside the interpolation is what gets copied.
    const parts = inner.parts.filter((p) => p.kind === "Path");
    return parts.length === 1 ? textOf(ctx, parts[0] as Expr) : undefined;
  }
  return undefined;
}

const READERS = new Set(["readFile", "fileContents", "importJSON", "importTOML", "readLines"]);

export const secretInStore: Rule = {
  code: "secret-read-at-eval",
  severity: "block",
  summary:
    "secret-looking files read at evaluation time or referenced as paths (they land in the world-readable store)",
  check(ctx) {
    // The arguments read, as ranges: a path inside one is reported as read, not again as a path.
    // Ranges rather than every node inside: readers nested in one another's arguments would make
    // that the square of their depth.
    const read: Array<{ start: number; end: number }> = [];
    for (const name of READERS)
      for (const { node, args } of ctx.calls(name, 1)) {
        const file = literalText(ctx, args[0] as Expr);
        if (file === undefined || !looksSecret(file)) continue;
        read.push(args[0] as Expr);
        flag(
          ctx,
          this,
          node,
          `\`${name} ${shown(file)}\` copies the secret into the world-readable Nix store at evaluation; pass a runtime path instead (e.g. \`passwordFile = "/run/secrets/..."\` with agenix or sops-nix)`,
        );
      }
    const wasRead = covering(read);
    ctx.each("Path", (node) => {
      if (wasRead(node.start)) return;
      const file = textOf(ctx, node);
      if (!looksSecret(file) || looksEncrypted(file)) return;
      ctx.report({
        code: "secret-path-in-store",
        severity: this.severity,
        message: `the path \`${shown(file)}\` is copied into the world-readable Nix store; keep the secret outside the flake and refer to it as a string path (\`"/run/secrets/..."\`)`,
        start: node.start,
        end: node.end,
      });
    });
  },
};

export const plainPassword: Rule = {
  code: "plain-password",
  severity: "block",
  summary: '`password = "..."` / `initialPassword = "..."` in clear text',
  check(ctx) {
    for (const bindings of allBindings(ctx)) {
      for (const b of bindings) {
        if (b.kind !== "Bind") continue;
        const last = b.path[b.path.length - 1];
        const name = last ? staticAttrName(ctx.source.text, last) : undefined;
        if (name !== "password" && name !== "initialPassword") continue;
        if (unparen(b.value).kind !== "String") continue;
        flag(
          ctx,
          this,
          b,
          `\`${shown(name)}\` in clear text ends up in the world-readable store; use \`hashedPasswordFile\` (or \`initialHashedPassword\` from \`mkpasswd\`)`,
        );
      }
    }
  },
};

const STORE_PATH = /\/nix\/store\/[0-9a-df-np-sv-z]{32}-/;

export const hardcodedStorePath: Rule = {
  code: "hardcoded-store-path",
  severity: "warn",
  summary: "a literal `/nix/store/<hash>-...` path",
  check(ctx) {
    if (!ctx.source.text.includes("/nix/store/")) return;
    ctx.each("String", (node) => {
      const hit = node.parts.find(
        (p) => p.kind === "Text" && STORE_PATH.test(ctx.source.slice(p.start, p.end)),
      );
      if (!hit) return;
      ctx.report({
        code: this.code,
        severity: this.severity,
        message:
          'a hard-coded store path breaks on the next rebuild or garbage collection; interpolate the package instead (`"${pkgs.hello}/bin/hello"`)',
        start: node.start,
        end: node.end,
      });
    });
  },
};
