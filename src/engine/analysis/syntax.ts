/**
 * The syntax tree of a Nix file. Every node carries its byte range in the file (`start` inclusive,
 * `end` exclusive), so rules can point at code and auto-fixes can replace exact ranges.
 */

interface Span {
  start: number;
  end: number;
}

/** One part of a string or path: literal text (a byte range of the source) or an interpolation. */
export type TextPart = { kind: "Text"; start: number; end: number } | Expr;

export type AttrName =
  | ({ kind: "Ident"; name: string } & Span)
  | ({ kind: "AttrString"; string: StringNode } & Span)
  | ({ kind: "Dynamic"; expr: Expr } & Span);

export interface Bind extends Span {
  kind: "Bind";
  path: AttrName[];
  value: Expr;
}

export interface Inherit extends Span {
  kind: "Inherit";
  from?: Expr;
  names: AttrName[];
}

export type Binding = Bind | Inherit;

export interface StringNode extends Span {
  kind: "String";
  indented: boolean;
  parts: TextPart[];
}

export interface Formal extends Span {
  name: string;
  default?: Expr;
}

export type Expr =
  | ({ kind: "Var"; name: string } & Span)
  | ({ kind: "Int"; text: string } & Span)
  | ({ kind: "Float"; text: string } & Span)
  | StringNode
  | ({ kind: "Path"; parts: TextPart[] } & Span)
  | ({ kind: "SearchPath"; path: string } & Span)
  | ({ kind: "Uri"; text: string } & Span)
  | ({ kind: "Paren"; expr: Expr } & Span)
  | ({ kind: "Attrs"; recursive: boolean; bindings: Binding[] } & Span)
  | ({ kind: "LegacyLet"; bindings: Binding[] } & Span)
  | ({ kind: "List"; items: Expr[] } & Span)
  | ({
      kind: "Lambda";
      param?: { name: string } & Span;
      formals?: { formals: Formal[]; ellipsis: boolean } & Span;
      body: Expr;
    } & Span)
  | ({ kind: "Let"; bindings: Binding[]; body: Expr; inStart: number } & Span)
  | ({ kind: "With"; env: Expr; body: Expr } & Span)
  | ({ kind: "Assert"; cond: Expr; body: Expr } & Span)
  | ({ kind: "If"; cond: Expr; then: Expr; else: Expr } & Span)
  | ({ kind: "Unary"; op: "!" | "-"; expr: Expr } & Span)
  | ({ kind: "Binary"; op: string; left: Expr; right: Expr } & Span)
  | ({ kind: "HasAttr"; expr: Expr; path: AttrName[] } & Span)
  | ({ kind: "Apply"; fn: Expr; arg: Expr } & Span)
  | ({ kind: "Select"; expr: Expr; path: AttrName[]; default?: Expr } & Span);

export type ExprOf<K extends Expr["kind"]> = Extract<Expr, { kind: K }>;

/**
 * Calls `fn(child, node, extra)` on each direct sub-expression of a node, in source order. The
 * `extra` argument lets hot callers pass state without allocating a closure per node.
 */
export function forEachChild<T>(
  node: Expr,
  fn: (child: Expr, parent: Expr, extra: T) => void,
  extra: T,
): void {
  switch (node.kind) {
    case "String":
    case "Path":
      for (const p of node.parts) if (p.kind !== "Text") fn(p, node, extra);
      return;
    case "Paren":
      fn(node.expr, node, extra);
      return;
    case "Attrs":
    case "LegacyLet":
      forEachBindingChild(node, node.bindings, fn, extra);
      return;
    case "List":
      for (const item of node.items) fn(item, node, extra);
      return;
    case "Lambda":
      for (const f of node.formals?.formals ?? []) if (f.default) fn(f.default, node, extra);
      fn(node.body, node, extra);
      return;
    case "Let":
      forEachBindingChild(node, node.bindings, fn, extra);
      fn(node.body, node, extra);
      return;
    case "With":
      fn(node.env, node, extra);
      fn(node.body, node, extra);
      return;
    case "Assert":
      fn(node.cond, node, extra);
      fn(node.body, node, extra);
      return;
    case "If":
      fn(node.cond, node, extra);
      fn(node.then, node, extra);
      fn(node.else, node, extra);
      return;
    case "Unary":
      fn(node.expr, node, extra);
      return;
    case "Binary":
      fn(node.left, node, extra);
      fn(node.right, node, extra);
      return;
    case "HasAttr":
      fn(node.expr, node, extra);
      forEachAttrPathChild(node, node.path, fn, extra);
      return;
    case "Apply":
      fn(node.fn, node, extra);
      fn(node.arg, node, extra);
      return;
    case "Select":
      fn(node.expr, node, extra);
      forEachAttrPathChild(node, node.path, fn, extra);
      if (node.default) fn(node.default, node, extra);
      return;
    default:
      return;
  }
}

function forEachAttrPathChild<T>(
  node: Expr,
  path: AttrName[],
  fn: (child: Expr, parent: Expr, extra: T) => void,
  extra: T,
): void {
  for (const name of path) {
    if (name.kind === "Dynamic") fn(name.expr, node, extra);
    else if (name.kind === "AttrString") fn(name.string, node, extra);
  }
}

function forEachBindingChild<T>(
  node: Expr,
  bindings: Binding[],
  fn: (child: Expr, parent: Expr, extra: T) => void,
  extra: T,
): void {
  for (const b of bindings) {
    if (b.kind === "Bind") {
      forEachAttrPathChild(node, b.path, fn, extra);
      fn(b.value, node, extra);
    } else {
      if (b.from) fn(b.from, node, extra);
      forEachAttrPathChild(node, b.names, fn, extra);
    }
  }
}

/**
 * Nodes by kind with their parents, parents before children. The variable-resolution pass fills it
 * as it goes, so the rules get their index without a walk of their own.
 */
export class NodeIndex {
  private readonly byKind = new Map<string, { nodes: Expr[]; parents: Array<Expr | undefined> }>();

  add(node: Expr, parent: Expr | undefined): void {
    let bucket = this.byKind.get(node.kind);
    if (!bucket) this.byKind.set(node.kind, (bucket = { nodes: [], parents: [] }));
    bucket.nodes.push(node);
    bucket.parents.push(parent);
  }

  /** The nodes of one kind, without their parents. */
  nodes<K extends Expr["kind"]>(kind: K): ReadonlyArray<ExprOf<K>> {
    return (this.byKind.get(kind)?.nodes ?? []) as unknown as ReadonlyArray<ExprOf<K>>;
  }

  /** `visit(node, parent)` for each node of one kind. */
  each<K extends Expr["kind"]>(kind: K, visit: (node: ExprOf<K>, parent: Expr | undefined) => void): void {
    const bucket = this.byKind.get(kind);
    if (!bucket) return;
    for (let i = 0; i < bucket.nodes.length; i++) visit(bucket.nodes[i] as ExprOf<K>, bucket.parents[i]);
  }
}

/** Visits every node depth-first, parents before children, in source order. */
export function walk(node: Expr, visit: (node: Expr, parent: Expr | undefined) => void): void {
  // A stack of its own, not recursion: `a - b - c - …` or `f a b c …` is a tree as deep as it is
  // long, far deeper than the call stack.
  const nodes: Expr[] = [node];
  const parents: Array<Expr | undefined> = [undefined];
  const children: Expr[] = [];
  while (nodes.length > 0) {
    const current = nodes.pop() as Expr;
    visit(current, parents.pop());
    forEachChild(current, collectChild, children);
    for (let i = children.length - 1; i >= 0; i--) {
      nodes.push(children[i] as Expr);
      parents.push(current);
    }
    children.length = 0;
  }
}

function collectChild(child: Expr, _parent: Expr, into: Expr[]): void {
  into.push(child);
}

/** The expression inside any number of parentheses. */
export function unparen(node: Expr): Expr {
  let current = node;
  while (current.kind === "Paren") current = current.expr;
  return current;
}

/** The value of a string without interpolations (escapes resolved), or undefined. */
export function stringLiteralValue(src: string, node: StringNode): string | undefined {
  if (node.parts.some((p) => p.kind !== "Text")) return undefined;
  const raw = node.parts.map((p) => src.slice(p.start, p.end)).join("");
  if (node.indented)
    return unindent(
      raw
        .replace(/''\\(.)/gs, "$1")
        .replace(/'''/g, "''")
        .replace(/''\$/g, "$"),
    );
  return raw.replace(/\\(.)/gs, (_, ch: string) =>
    ch === "n" ? "\n" : ch === "t" ? "\t" : ch === "r" ? "\r" : ch,
  );
}

function unindent(text: string): string {
  const lines = text.split("\n");
  if (lines[0]?.trim() === "") lines.shift();
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)?.[0].length ?? 0);
  const min = indents.length ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(min)).join("\n");
}

/** The name of an attribute when it is known without evaluating (`a`, `"a"`, `${"a"}`), else undefined. */
export function staticAttrName(src: string, name: AttrName): string | undefined {
  if (name.kind === "Ident") return name.name;
  const inner = name.kind === "AttrString" ? name.string : unparen(name.expr);
  return inner.kind === "String" ? stringLiteralValue(src, inner) : undefined;
}
