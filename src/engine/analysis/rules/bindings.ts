/**
 * Anti-pattern rules about bindings: `let` and `inherit` forms statix shortens, patterns that bind
 * nothing, prefixes repeated, and bindings nothing uses (deadnix).
 */

import { shown } from "../parser.js";
import { type Binding, staticAttrName } from "../syntax.js";
import { allBindings, flag, type Rule, type RuleContext, removeBinding, textOf } from "./define.js";

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
