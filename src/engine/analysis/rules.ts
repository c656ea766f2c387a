/**
 * Anti-pattern rules: statix's lints, deadnix's unused bindings and NixOS-specific mistakes.
 * Codes are stable names (they appear in suppressions and configuration). An auto-fix is offered
 * only where it keeps the meaning; the fix tests check that each one still parses and silences
 * its rule.
 */

import { shown } from "./parser.js";
import {
  asOperand,
  callParts,
  flag,
  headName,
  isAtomic,
  isBoolVar,
  isCall,
  type Rule,
  type RuleContext,
  textOf,
} from "./rule.js";
import type { Declaration } from "./scope.js";
import {
  type Binding,
  type Expr,
  type ExprOf,
  staticAttrName,
  stringLiteralValue,
  unparen,
} from "./syntax.js";

/**
 * Where each variable name occurs, as sorted offsets: whether a name occurs within a range of the
 * file (shadowed or not: a conservative answer) is then a binary search, not a walk of the range,
 * which for ranges nested in one another costs the square of their depth.
 */
function occurrences(ctx: RuleContext): (name: string, start: number, end: number) => boolean {
  const byName = new Map<string, number[]>();
  for (const v of ctx.nodes("Var")) {
    const starts = byName.get(v.name);
    if (starts) starts.push(v.start);
    else byName.set(v.name, [v.start]);
  }
  for (const starts of byName.values()) starts.sort((a, b) => a - b);
  return (name, start, end) => {
    const starts = byName.get(name) ?? [];
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((starts[mid] as number) < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < starts.length && (starts[lo] as number) < end;
  };
}

const BINARY_PREC: Record<string, number> = { "->": 1, "||": 2, "&&": 3 };

/** Can an expression of any precedence replace `node` here without parentheses? */
function isFreeContext(parent: Expr | undefined, node: Expr): boolean {
  if (!parent) return true;
  switch (parent.kind) {
    case "Paren":
    case "Attrs":
    case "LegacyLet":
    case "Let":
    case "If":
    case "With":
    case "Assert":
    case "String":
    case "Path":
      return true;
    case "Lambda":
      return parent.body === node || (parent.formals?.formals.some((f) => f.default === node) ?? false);
    case "Binary":
      return (BINARY_PREC[parent.op] ?? 99) < 4;
    default:
      return false;
  }
}

const SPACE = /\s/;

/** Removes a whole binding, with its line when nothing else is on it. */
function removeBinding(ctx: RuleContext, b: { start: number; end: number }) {
  const text = ctx.source.text;
  // Only the blanks around the binding are read, not its whole line: on a file that is one long
  // line, reading the line for each of many bindings costs the square of its length.
  let lineStart = b.start;
  while (lineStart > 0 && text[lineStart - 1] !== "\n" && SPACE.test(text[lineStart - 1] as string))
    lineStart--;
  let lineEnd = b.end;
  while (lineEnd < text.length && text[lineEnd] !== "\n" && SPACE.test(text[lineEnd] as string)) lineEnd++;
  const alone =
    (lineStart === 0 || text[lineStart - 1] === "\n") && (lineEnd === text.length || text[lineEnd] === "\n");
  return alone
    ? { start: lineStart, end: Math.min(lineEnd + 1, text.length), replacement: "" }
    : { start: b.start, end: b.end, replacement: "" };
}

/** Replaces a parenthesised expression by its inside, keeping tokens apart where they would merge. */
function unwrapParen(ctx: RuleContext, node: ExprOf<"Paren">) {
  const text = ctx.source.text;
  const before = text[node.start - 1] ?? " ";
  const after = text[node.end] ?? " ";
  let inner = textOf(ctx, node.expr);
  if (!/[\s([{;=:,!]/.test(before)) inner = ` ${inner}`;
  if (!/[\s)\]};,]/.test(after) && !(after === "." && node.expr.kind !== "Int" && node.expr.kind !== "Float"))
    inner = `${inner} `;
  return { start: node.start, end: node.end, replacement: inner };
}

/** The binding lists of every attribute set, let and legacy let of the file. */
function allBindings(ctx: RuleContext): Binding[][] {
  return [...ctx.nodes("Attrs"), ...ctx.nodes("Let"), ...ctx.nodes("LegacyLet")].map((node) => node.bindings);
}

export const boolComparison: Rule = {
  code: "bool-comparison",
  severity: "warn",
  summary: "comparison with a boolean literal (`x == true`)",
  check(ctx) {
    ctx.each("Binary", (node) => {
      if (node.op !== "==" && node.op !== "!=") return;
      const literalLeft = isBoolVar(node.left);
      const literal = literalLeft ? node.left : node.right;
      const other = literalLeft ? node.right : node.left;
      if (!isBoolVar(literal) || isBoolVar(other)) return;
      const positive = ((unparen(literal) as ExprOf<"Var">).name === "true") === (node.op === "==");
      const replacement = positive ? textOf(ctx, other) : `!${asOperand(ctx, other)}`;
      flag(ctx, this, node, `comparing with a boolean literal; write \`${shown(replacement)}\` instead`, [
        { start: node.start, end: node.end, replacement },
      ]);
    });
  },
};

export const emptyLetIn: Rule = {
  code: "empty-let-in",
  severity: "warn",
  summary: "`let in` with no bindings",
  check(ctx) {
    ctx.each("Let", (node) => {
      if (node.bindings.length > 0) return;
      flag(
        ctx,
        this,
        { start: node.start, end: node.inStart + 2 },
        "this `let in` binds nothing; write only its body",
        [{ start: node.start, end: node.end, replacement: textOf(ctx, node.body) }],
      );
    });
  },
};

export const manualInherit: Rule = {
  code: "manual-inherit",
  severity: "warn",
  summary: "`a = a;` in an attribute set",
  check(ctx) {
    ctx.each("Attrs", (node) => {
      if (node.recursive) return;
      for (const b of node.bindings) {
        if (b.kind !== "Bind" || b.path.length !== 1) continue;
        const name = staticAttrName(ctx.source.text, b.path[0] as (typeof b.path)[0]);
        const value = b.value;
        if (name === undefined || value.kind !== "Var" || value.name !== name || b.path[0]?.kind !== "Ident")
          continue;
        flag(
          ctx,
          this,
          b,
          `write \`inherit ${shown(name)};\` instead of \`${shown(name)} = ${shown(name)};\``,
          [{ start: b.start, end: b.end, replacement: `inherit ${name};` }],
        );
      }
    });
  },
};

export const manualInheritFrom: Rule = {
  code: "manual-inherit-from",
  severity: "warn",
  summary: "`a = x.a;` in an attribute set",
  check(ctx) {
    ctx.each("Attrs", (node) => {
      if (node.recursive) return;
      for (const b of node.bindings) {
        if (b.kind !== "Bind" || b.path.length !== 1 || b.path[0]?.kind !== "Ident") continue;
        const name = b.path[0].name;
        const value = b.value;
        if (value.kind !== "Select" || value.default) continue;
        const last = value.path[value.path.length - 1];
        if (!last || last.kind !== "Ident" || last.name !== name) continue;
        if (value.expr.kind !== "Var" || value.path.some((p) => p.kind !== "Ident")) continue;
        const dot = ctx.source.text.lastIndexOf(".", last.start);
        const from = ctx.source.slice(value.start, dot).trim();
        const replacement = `inherit (${from}) ${name};`;
        flag(ctx, this, b, `write \`${shown(replacement)}\``, [{ start: b.start, end: b.end, replacement }]);
      }
    });
  },
};

export const legacyLet: Rule = {
  code: "legacy-let",
  severity: "warn",
  summary: "the deprecated `let { ...; body = ...; }` form",
  check(ctx) {
    ctx.each("LegacyLet", (node) => {
      ctx.report({
        code: this.code,
        severity: this.severity,
        message:
          "`let { body = ...; }` is deprecated; write `let ... in body` (the fix uses `rec { ... }.body`)",
        start: node.start,
        end: node.start + 3,
        fix: [
          { start: node.start, end: node.start + 3, replacement: "rec" },
          { start: node.end, end: node.end, replacement: ".body" },
        ],
      });
    });
  },
};

export const collapsibleLetIn: Rule = {
  code: "collapsible-let-in",
  severity: "warn",
  summary: "`let ... in let ... in` that can be one `let`",
  check(ctx) {
    let occurs: ReturnType<typeof occurrences> | undefined;
    ctx.each("Let", (node) => {
      const inner = node.body;
      if (inner.kind !== "Let") return;
      const names = (bs: Binding[]) =>
        bs
          .flatMap((b) => (b.kind === "Bind" ? [b.path[0]] : b.names))
          .map((n) => (n ? staticAttrName(ctx.source.text, n) : undefined));
      const outerNames = new Set(names(node.bindings));
      const innerNames = names(inner.bindings);
      // Merging is safe only if no name clashes and no outer binding could start seeing an inner
      // one: none mentions it, in its value or as a plain `inherit`.
      const first = node.bindings[0];
      const last = node.bindings[node.bindings.length - 1];
      const inherited = new Set(
        node.bindings.flatMap((b) =>
          b.kind === "Inherit" && !b.from ? b.names.flatMap((n) => (n.kind === "Ident" ? [n.name] : [])) : [],
        ),
      );
      const mentioned = (name: string) => {
        occurs ??= occurrences(ctx);
        return inherited.has(name) || (first && last ? occurs(name, first.start, last.end) : false);
      };
      const safe = !innerNames.some((n) => n === undefined || outerNames.has(n) || mentioned(n));
      flag(
        ctx,
        this,
        { start: node.inStart, end: inner.start + 3 },
        "this `let` directly contains another `let`; merge their bindings into one",
        safe ? [{ start: node.inStart, end: inner.start + 3, replacement: "" }] : undefined,
      );
    });
  },
};

export const etaReduction: Rule = {
  code: "eta-reduction",
  severity: "warn",
  summary: "`x: f x`, which is just `f`",
  check(ctx) {
    // Whether `f` uses `x` is read from variable resolution rather than by searching `f`: a search
    // per function costs the square of the depth of functions nested in one another.
    const params = new Map<Expr, Declaration>();
    for (const d of ctx.resolution.declarations) if (d.kind === "lambda") params.set(d.owner, d);
    ctx.each("Lambda", (node) => {
      if (!node.param || node.formals || node.body.kind !== "Apply") return;
      const { fn, arg } = node.body;
      // The `x` at the end is one use of the argument; any other is in `f` (a variable of the same
      // name that `f` binds itself is another variable).
      if (arg.kind !== "Var" || arg.name !== node.param.name || (params.get(node)?.uses ?? 2) > 1) return;
      const replacement = textOf(ctx, fn);
      flag(
        ctx,
        this,
        node,
        `\`${shown(node.param.name)}: ${shown(replacement)} ${shown(node.param.name)}\` is \`${shown(replacement)}\`; write that`,
        [{ start: node.start, end: node.end, replacement }],
      );
    });
  },
};

export const uselessParens: Rule = {
  code: "useless-parens",
  severity: "warn",
  summary: "parentheses that change nothing",
  check(ctx) {
    const flagged = new Set<Expr>();
    const consider = (node: Expr) => {
      if (node.kind === "Paren" && !flagged.has(node)) {
        flagged.add(node);
        flag(ctx, this, node, "these parentheses change nothing; remove them", [unwrapParen(ctx, node)]);
      }
    };
    consider(ctx.ast);
    // Anywhere: around something atomic. Where any expression fits (a binding's value, a let
    // body, the whole file): around anything.
    ctx.each("Paren", (node, parent) => {
      if (isAtomic(node.expr) && node.expr.kind !== "Paren" && parent?.kind !== "Select") consider(node);
    });
    for (const node of ctx.nodes("Let")) consider(node.body);
    for (const bindings of allBindings(ctx))
      for (const b of bindings) if (b.kind === "Bind") consider(b.value);
  },
};

export const emptyPattern: Rule = {
  code: "empty-pattern",
  severity: "warn",
  summary: "`{ ... }: x`, which is `_: x`",
  check(ctx) {
    ctx.each("Lambda", (node) => {
      const f = node.formals;
      if (!f || node.param || f.formals.length > 0 || !f.ellipsis) return;
      flag(ctx, this, f, "a pattern that takes nothing by name; write `_:` instead of `{ ... }:`", [
        { start: f.start, end: f.end, replacement: "_" },
      ]);
    });
  },
};

export const redundantPatternBind: Rule = {
  code: "redundant-pattern-bind",
  severity: "warn",
  summary: "`args @ { ... }: x`, which is `args: x`",
  check(ctx) {
    ctx.each("Lambda", (node) => {
      const f = node.formals;
      if (!f || !node.param || f.formals.length > 0 || !f.ellipsis) return;
      const start = Math.min(f.start, node.param.start);
      const end = Math.max(f.end, node.param.end);
      flag(ctx, this, { start, end }, `the pattern adds nothing; write \`${shown(node.param.name)}:\``, [
        { start, end, replacement: node.param.name },
      ]);
    });
  },
};

export const unquotedUri: Rule = {
  code: "unquoted-uri",
  severity: "warn",
  summary: "a URI literal without quotes (deprecated, an error with no-url-literals)",
  check(ctx) {
    ctx.each("Uri", (node) => {
      flag(ctx, this, node, `quote the URI: \`"${shown(node.text)}"\``, [
        { start: node.start, end: node.end, replacement: `"${node.text}"` },
      ]);
    });
  },
};

export const emptyInherit: Rule = {
  code: "empty-inherit",
  severity: "warn",
  summary: "`inherit;` that inherits nothing",
  check(ctx) {
    for (const bindings of allBindings(ctx)) {
      for (const b of bindings) {
        if (b.kind !== "Inherit" || b.names.length > 0) continue;
        flag(ctx, this, b, "this `inherit` names nothing; remove it", [removeBinding(ctx, b)]);
      }
    }
  },
};

export const deprecatedToPath: Rule = {
  code: "deprecated-to-path",
  severity: "warn",
  summary: "`builtins.toPath`",
  check(ctx) {
    for (const { node } of ctx.calls("toPath", 1))
      flag(ctx, this, node, 'builtins.toPath is deprecated; write `/. + "/some/path"` or a path literal');
  },
};

export const boolSimplification: Rule = {
  code: "bool-simplification",
  severity: "warn",
  summary: "`!(a == b)`, which is `a != b`",
  check(ctx) {
    ctx.each("Unary", (node, parent) => {
      const inner = unparen(node.expr);
      if (node.op !== "!" || inner.kind !== "Binary" || (inner.op !== "==" && inner.op !== "!=")) return;
      const op = inner.op === "==" ? "!=" : "==";
      const plain = `${textOf(ctx, inner.left)} ${op} ${textOf(ctx, inner.right)}`;
      const replacement = isFreeContext(parent, node) ? plain : `(${plain})`;
      flag(ctx, this, node, `write \`${shown(plain)}\``, [{ start: node.start, end: node.end, replacement }]);
    });
  },
};

export const uselessHasAttr: Rule = {
  code: "useless-has-attr",
  severity: "warn",
  summary: "`if x ? a then x.a else d`, which is `x.a or d`",
  check(ctx) {
    ctx.each("If", (node) => {
      const cond = unparen(node.cond);
      const then = unparen(node.then);
      if (cond.kind !== "HasAttr" || then.kind !== "Select" || then.default) return;
      const pathText = (p: { start: number; end: number }[]) => p.map((n) => textOf(ctx, n)).join(".");
      if (textOf(ctx, cond.expr) !== textOf(ctx, then.expr) || pathText(cond.path) !== pathText(then.path))
        return;
      const replacement = `${textOf(ctx, then)} or ${asOperand(ctx, unparen(node.else))}`;
      flag(ctx, this, node, `write \`${shown(replacement)}\``, [
        { start: node.start, end: node.end, replacement },
      ]);
    });
  },
};

export const repeatedKeys: Rule = {
  code: "repeated-keys",
  severity: "warn",
  summary: "the same attribute prefix written three times or more",
  check(ctx) {
    for (const bindings of allBindings(ctx)) {
      const counts = new Map<string, Array<{ start: number; end: number }>>();
      for (const b of bindings) {
        if (b.kind !== "Bind" || b.path.length < 2) continue;
        const name = staticAttrName(ctx.source.text, b.path[0] as (typeof b.path)[0]);
        if (name === undefined) continue;
        const same = counts.get(name);
        if (same) same.push(b);
        else counts.set(name, [b]);
      }
      for (const [name, binds] of counts) {
        if (binds.length < 3) continue;
        const first = binds[0] as { start: number; end: number };
        flag(
          ctx,
          this,
          first,
          `\`${shown(name)}.\` is repeated ${binds.length} times; group them as \`${shown(name)} = { ... };\``,
        );
      }
    }
  },
};

export const emptyListConcat: Rule = {
  code: "empty-list-concat",
  severity: "warn",
  summary: "`[ ] ++ x` or `x ++ [ ]`",
  check(ctx) {
    ctx.each("Binary", (node) => {
      if (node.op !== "++") return;
      const emptyLeft =
        unparen(node.left).kind === "List" && (unparen(node.left) as ExprOf<"List">).items.length === 0;
      const emptyRight =
        unparen(node.right).kind === "List" && (unparen(node.right) as ExprOf<"List">).items.length === 0;
      if (!emptyLeft && !emptyRight) return;
      const other = emptyLeft ? node.right : node.left;
      flag(ctx, this, node, "concatenating an empty list changes nothing; write only the other side", [
        { start: node.start, end: node.end, replacement: textOf(ctx, other) },
      ]);
    });
  },
};

export const unusedBinding: Rule = {
  code: "unused-binding",
  severity: "warn",
  summary: "a let binding or function argument that nothing uses (deadnix)",
  check(ctx) {
    for (const decl of ctx.resolution.declarations) {
      if (decl.uses > 0 || decl.kind === "rec" || decl.name.startsWith("_")) continue;
      const owner = decl.owner;
      // With `args @ { ... }` every field may be reached through `args`; a flake's `outputs`
      // receives `self` whether it wants it or not, and `{ self, ... }` is the idiom.
      if (decl.kind === "formal" && ((owner.kind === "Lambda" && owner.param) || decl.name === "self"))
        continue;
      const b = decl.binding;
      const removable = decl.kind === "let" && b?.kind === "Bind" && b.path.length === 1;
      ctx.report({
        code: this.code,
        severity: this.severity,
        message:
          decl.kind === "let"
            ? `\`${shown(decl.name)}\` is bound but never used; remove it`
            : decl.kind === "formal"
              ? `argument \`${shown(decl.name)}\` is never used; remove it from the pattern (keep \`...\` if callers pass it)`
              : `argument \`${shown(decl.name)}\` is never used; rename it \`_\` or \`_${shown(decl.name)}\``,
        start: decl.start,
        end: decl.end,
        fix: removable && b ? [removeBinding(ctx, b)] : undefined,
      });
    }
  },
};

export const mkIfConstant: Rule = {
  code: "mkif-constant",
  severity: "block",
  summary: "`mkIf true x` / `mkIf false x`",
  check(ctx) {
    for (const { node, args } of ctx.calls("mkIf", 2)) {
      const [cond, body] = args as [Expr, Expr];
      if (!isBoolVar(cond)) continue;
      const always = isBoolVar(cond, true);
      ctx.report({
        code: always ? "mkif-true" : "mkif-false",
        severity: this.severity,
        message: always
          ? "`mkIf true` is always on: write the value itself"
          : "`mkIf false` is dead configuration: delete it, or give it a real condition",
        start: node.start,
        end: node.end,
        fix: always ? [{ start: node.start, end: node.end, replacement: textOf(ctx, body) }] : undefined,
      });
    }
  },
};

export const updateWithMkIf: Rule = {
  code: "update-with-mkif",
  severity: "block",
  summary: "`{ ... } // mkIf c { ... }`, which drops the condition",
  check(ctx) {
    ctx.each("Binary", (node) => {
      if (node.op !== "//") return;
      const side = [node.left, node.right].map(unparen).find((s) => isCall(ctx.source.text, s, "mkIf", 2));
      if (!side) return;
      const { head } = callParts(side);
      const prefix =
        head.kind === "Select"
          ? ctx.source.slice(head.start, ctx.source.text.lastIndexOf(".", head.end - 1) + 1)
          : undefined;
      const replacement = `${prefix}mkMerge [ ${asOperand(ctx, node.left)} ${asOperand(ctx, node.right)} ]`;
      ctx.report({
        code: this.code,
        severity: this.severity,
        message:
          "`//` with `mkIf` merges the mkIf wrapper, not its contents; write `lib.mkMerge [ a (lib.mkIf c b) ]`",
        start: node.start,
        end: node.end,
        fix: prefix !== undefined ? [{ start: node.start, end: node.end, replacement }] : undefined,
      });
    });
  },
};

export const topLevelWithPkgs: Rule = {
  code: "top-level-with-pkgs",
  severity: "warn",
  summary: "`with pkgs;` around a whole module",
  check(ctx) {
    let node: Expr | undefined = ctx.ast;
    while (node) {
      if (node.kind === "With") {
        const env = unparen(node.env);
        const isPkgs =
          (env.kind === "Var" && env.name === "pkgs") ||
          (env.kind === "Select" && headName(ctx.source.text, env) === "pkgs");
        if (isPkgs) {
          ctx.report({
            code: this.code,
            severity: this.severity,
            message:
              "`with pkgs;` over the whole file hides where names come from; write `pkgs.name`, or `with pkgs; [ ... ]` on one list",
            start: node.start,
            end: node.env.end + 1,
          });
          return;
        }
      }
      node =
        node.kind === "Lambda" || node.kind === "Let" || node.kind === "With"
          ? node.body
          : node.kind === "Paren"
            ? node.expr
            : undefined;
    }
  },
};

export const lookupPath: Rule = {
  code: "lookup-path",
  severity: "block",
  summary: "`<nixpkgs>` lookup paths and `import <nixpkgs> { }` in a flake",
  check(ctx) {
    if (!ctx.inFlake) return;
    const imported = new Set<Expr>();
    for (const { node, args } of ctx.calls("import", 2)) {
      const target = unparen(args[0] as Expr);
      if (target.kind !== "SearchPath") continue;
      imported.add(target);
      ctx.report({
        code: "import-nixpkgs",
        severity: this.severity,
        message: `\`import <${shown(target.path)}> { }\` in a flake reads the host's channel, not the locked input; use \`inputs.nixpkgs.legacyPackages.\${system}\` or the module's \`pkgs\``,
        start: node.start,
        end: node.end,
      });
    }
    ctx.each("SearchPath", (node) => {
      if (imported.has(node)) return;
      flag(
        ctx,
        this,
        node,
        `\`<${shown(node.path)}>\` depends on NIX_PATH, which pure flake evaluation does not have; use the flake input instead`,
      );
    });
  },
};

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

export const ANTIPATTERN_RULES: Rule[] = [
  boolComparison,
  emptyLetIn,
  manualInherit,
  manualInheritFrom,
  legacyLet,
  collapsibleLetIn,
  etaReduction,
  uselessParens,
  emptyPattern,
  redundantPatternBind,
  unquotedUri,
  emptyInherit,
  deprecatedToPath,
  boolSimplification,
  uselessHasAttr,
  repeatedKeys,
  emptyListConcat,
  unusedBinding,
  mkIfConstant,
  updateWithMkIf,
  topLevelWithPkgs,
  lookupPath,
  secretInStore,
  plainPassword,
  hardcodedStorePath,
];

/** Every code a rule can report (some rules report more than one). */
export const ANTIPATTERN_CODES = [
  ...ANTIPATTERN_RULES.map((r) => r.code).filter((c) => c !== "mkif-constant"),
  "mkif-true",
  "mkif-false",
  "import-nixpkgs",
  "secret-path-in-store",
];
