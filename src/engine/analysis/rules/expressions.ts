/**
 * Anti-pattern rules about expressions that say more than they need to (statix's lints): a
 * comparison with a boolean, `x: f x`, parentheses, `!(a == b)`, `x ? a` before `x.a`, `[ ] ++ x`.
 * Each fix writes the shorter form with the same meaning.
 */

import { shown } from "../parser.js";
import type { Declaration } from "../scope.js";
import { type Expr, type ExprOf, unparen } from "../syntax.js";
import {
  allBindings,
  asOperand,
  flag,
  isAtomic,
  isBoolVar,
  type Rule,
  type RuleContext,
  textOf,
} from "./define.js";

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
