/**
 * What a rule sees and what it reports. Rules are pure functions of one parsed file; the scan
 * around them handles files, suppressions, configuration and fixes.
 */
import type { Resolution } from "../scope.js";
import type { SourceText } from "../source.js";
import { type Binding, type Expr, type ExprOf, type NodeIndex, staticAttrName, unparen } from "../syntax.js";

export type Severity = "block" | "warn";

/** One replacement in one file, by byte range. */
export interface Edit {
  start: number;
  end: number;
  replacement: string;
}

export interface RawFinding {
  code: string;
  severity: Severity;
  message: string;
  start: number;
  end: number;
  fix?: Edit[];
}

export interface RuleContext {
  source: SourceText;
  ast: Expr;
  resolution: Resolution;
  /** The file is part of a flake (lookup paths like `<nixpkgs>` are impure there). */
  inFlake: boolean;
  report(finding: RawFinding): void;
  /** Every node of a kind, in source order; the tree is walked once per file for all rules. */
  nodes<K extends Expr["kind"]>(kind: K): ReadonlyArray<ExprOf<K>>;
  /** `visit(node, parent)` for every node of a kind, in source order. */
  each<K extends Expr["kind"]>(kind: K, visit: (node: ExprOf<K>, parent: Expr | undefined) => void): void;
  /**
   * Every application of a function that goes by `name` (`mkIf`, `lib.mkIf`, `builtins.readFile`)
   * to exactly `arity` arguments, with its parts; a partial one (`f a` in `f a b`) counts too.
   */
  calls(name: string, arity: number): readonly Call[];
}

/** An application node as its head and arguments; a partial one (`f a` in `f a b`) is a call too. */
export interface Call {
  node: ExprOf<"Apply">;
  head: Expr;
  args: Expr[];
}

/** An application chain `f a b c`: its head, its arguments, and its nodes, innermost (`f a`) first. */
interface Chain {
  head: Expr;
  args: Expr[];
  nodes: ExprOf<"Apply">[];
}

/** What the rules query: the node index that variable resolution filled, and the calls by name. */
export function indexNodes(src: string, index: NodeIndex): Pick<RuleContext, "nodes" | "each" | "calls"> {
  let chainsByName: Map<string, Chain[]> | undefined;
  return {
    nodes: (kind) => index.nodes(kind),
    each: (kind, visit) => index.each(kind, visit),
    // Several rules look for calls by name: each chain is taken apart once, not once per rule, and
    // not once per partial application in it (`f a1 … aN` holds N of them: taking each apart on its
    // own costs N² for a long one).
    calls: (name, arity) => {
      if (!chainsByName) {
        chainsByName = new Map();
        const inner = new Set<Expr>();
        for (const node of index.nodes("Apply")) {
          const fn = unparen(node.fn);
          if (fn.kind === "Apply") inner.add(fn);
        }
        for (const node of index.nodes("Apply")) {
          if (inner.has(node)) continue;
          const nodes: ExprOf<"Apply">[] = [];
          let current: Expr = node;
          while (current.kind === "Apply") {
            nodes.push(current);
            current = unparen(current.fn);
          }
          nodes.reverse();
          const headIs = headName(src, current);
          if (headIs === undefined) continue;
          let same = chainsByName.get(headIs);
          if (!same) chainsByName.set(headIs, (same = []));
          same.push({ head: current, args: nodes.map((n) => n.arg), nodes });
        }
      }
      const calls: Call[] = [];
      for (const chain of chainsByName.get(name) ?? []) {
        const node = chain.nodes[arity - 1];
        if (node) calls.push({ node, head: chain.head, args: chain.args.slice(0, arity) });
      }
      return calls;
    },
  };
}

export interface Rule {
  code: string;
  severity: Severity;
  /** One line: what the rule finds. */
  summary: string;
  check(ctx: RuleContext): void;
}

/** `f a b` as its head and arguments. */
export function callParts(node: Expr): { head: Expr; args: Expr[] } {
  const args: Expr[] = [];
  let current = node;
  while (current.kind === "Apply") {
    args.push(current.arg);
    current = unparen(current.fn);
  }
  return { head: current, args: args.reverse() };
}

/** The name a call goes by: `mkIf` for `mkIf`, `lib.mkIf` and `lib.modules.mkIf`. */
export function headName(src: string, head: Expr): string | undefined {
  if (head.kind === "Var") return head.name.startsWith("__") ? head.name.slice(2) : head.name;
  if (head.kind === "Select" && !head.default) {
    const last = head.path[head.path.length - 1];
    return last ? staticAttrName(src, last) : undefined;
  }
  return undefined;
}

/** Whether `node` is a call of a function named `name` with exactly `arity` arguments. */
export function isCall(src: string, node: Expr, name: string, arity: number): ExprOf<"Apply"> | undefined {
  if (node.kind !== "Apply") return undefined;
  // Down `arity` applications and no further: the rest of a long chain cannot change the answer.
  let head: Expr = node;
  for (let i = 0; i < arity; i++) {
    if (head.kind !== "Apply") return undefined;
    head = unparen(head.fn);
  }
  return head.kind !== "Apply" && headName(src, head) === name ? node : undefined;
}

export function isBoolVar(node: Expr, value?: boolean): node is ExprOf<"Var"> {
  const inner = unparen(node);
  return (
    inner.kind === "Var" &&
    (value === undefined ? inner.name === "true" || inner.name === "false" : inner.name === String(value))
  );
}

/** Expressions that can stand anywhere an argument or list item can, without parentheses. */
export function isAtomic(node: Expr): boolean {
  switch (node.kind) {
    case "Var":
    case "Int":
    case "Float":
    case "String":
    case "Path":
    case "SearchPath":
    case "Uri":
    case "Attrs":
    case "List":
    case "Paren":
    case "LegacyLet":
      return true;
    default:
      return false;
  }
}

/** The text of an expression, parenthesised unless it is atomic. */
export function asOperand(ctx: RuleContext, node: Expr): string {
  const text = ctx.source.slice(node.start, node.end);
  return isAtomic(node) || (node.kind === "Select" && !node.default) ? text : `(${text})`;
}

export function textOf(ctx: RuleContext, node: { start: number; end: number }): string {
  return ctx.source.slice(node.start, node.end);
}

/** Reports a finding of `rule` over `range`, with the rule's own code and severity. */
export function flag(
  ctx: RuleContext,
  rule: Rule,
  range: { start: number; end: number },
  message: string,
  fix?: Edit[],
): void {
  ctx.report({ code: rule.code, severity: rule.severity, message, start: range.start, end: range.end, fix });
}

const SPACE = /\s/;

/** Removes a whole binding, with its line when nothing else is on it. */
export function removeBinding(ctx: RuleContext, b: { start: number; end: number }) {
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

/** The binding lists of every attribute set, let and legacy let of the file. */
export function allBindings(ctx: RuleContext): Binding[][] {
  return [...ctx.nodes("Attrs"), ...ctx.nodes("Let"), ...ctx.nodes("LegacyLet")].map((node) => node.bindings);
}
