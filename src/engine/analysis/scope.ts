/**
 * Variable resolution, as Nix does it right after parsing: a variable is looked up lexically (let,
 * rec, function arguments, then the built-in globals); only when that fails does an enclosing `with`
 * supply it, and with no `with` around it is an "undefined variable" error — one that
 * `nix-instantiate --parse` reports, so it belongs to the syntax check. The same pass counts the uses
 * of every binding, which is what the unused-binding rule reads.
 */
import {
  type AttrName,
  type Binding,
  type Expr,
  forEachChild,
  type NodeIndex,
  staticAttrName,
} from "./syntax.js";

/** Nix 2.8's global names: the built-ins not prefixed with `__` in the base environment. */
const PLAIN_GLOBALS = [
  "abort",
  "baseNameOf",
  "builtins",
  "derivation",
  "derivationStrict",
  "dirOf",
  "false",
  "fetchGit",
  "fetchMercurial",
  "fetchTarball",
  "fetchTree",
  "fromTOML",
  "import",
  "isNull",
  "map",
  "null",
  "placeholder",
  "removeAttrs",
  "scopedImport",
  "throw",
  "toString",
  "true",
];

/** The built-ins reachable as `__name` (`builtins.attrNames builtins` of Nix 2.8, minus the plain ones). */
const UNDERSCORED = (
  "add addErrorContext all any appendContext attrNames attrValues bitAnd bitOr bitXor catAttrs ceil " +
  "compareVersions concatLists concatMap concatStringsSep currentSystem currentTime deepSeq div elem " +
  "elemAt fetchurl filter filterSource findFile floor foldl' fromJSON functionArgs genList " +
  "genericClosure getAttr getContext getEnv groupBy hasAttr hasContext hashFile hashString head " +
  "intersectAttrs isAttrs isBool isFloat isFunction isInt isList isPath isString langVersion length " +
  "lessThan listToAttrs mapAttrs match mul nixPath nixVersion parseDrvName partition path pathExists " +
  "readDir readFile replaceStrings seq sort split splitVersion storeDir storePath stringLength sub " +
  "substring tail toFile toJSON toPath toXML trace tryEval typeOf unsafeDiscardOutputDependency " +
  "unsafeDiscardStringContext unsafeGetAttrPos zipAttrsWith curPos"
)
  .split(" ")
  .map((n) => `__${n}`);

export const GLOBALS: ReadonlySet<string> = new Set([...PLAIN_GLOBALS, ...UNDERSCORED]);

export interface Declaration {
  name: string;
  start: number;
  end: number;
  /** What binds it: a let binding, a function argument (plain or `@`), a pattern field, a rec attribute. */
  kind: "let" | "lambda" | "formal" | "rec";
  /** The node that opens the scope (Let, Lambda, Attrs, LegacyLet). */
  owner: Expr;
  /** The binding that declares it, for let and rec names. */
  binding?: Binding;
  uses: number;
}

export interface Resolution {
  undefinedVars: Array<{ name: string; start: number }>;
  declarations: Declaration[];
}

interface Scope {
  vars?: Map<string, Declaration>;
  isWith: boolean;
  parent?: Scope;
}

/** With an `index`, every node visited is also added to it with its parent (one walk for both). */
export function resolveScopes(src: string, ast: Expr, index?: NodeIndex): Resolution {
  const result: Resolution = { undefinedVars: [], declarations: [] };

  const lookup = (scope: Scope | undefined, name: string, start: number) => {
    let sawWith = false;
    for (let s = scope; s; s = s.parent) {
      if (s.isWith) sawWith = true;
      else {
        const decl = s.vars?.get(name);
        if (decl) {
          decl.uses++;
          return;
        }
      }
    }
    if (!GLOBALS.has(name) && !sawWith) result.undefinedVars.push({ name, start });
  };

  // Every declaration is built with the same fields in the same order: one object shape keeps the
  // `uses++` of every variable lookup a fast property write.
  const declare = (
    scope: Scope,
    name: string,
    at: { start: number; end: number },
    kind: Declaration["kind"],
    owner: Expr,
    binding?: Binding,
  ) => {
    const decl: Declaration = { name, start: at.start, end: at.end, kind, owner, binding, uses: 0 };
    scope.vars?.set(name, decl);
    result.declarations.push(decl);
  };

  const attrPath = (owner: Expr, path: AttrName[], scope: Scope) => {
    for (const n of path) {
      if (n.kind === "Dynamic") visit(n.expr, owner, scope);
      else if (n.kind === "AttrString") visit(n.string, owner, scope);
    }
  };

  /** Bindings of let, rec sets and legacy let: every name is in scope for every value. */
  const recursiveBindings = (owner: Expr, bindings: Binding[], outer: Scope, kind: "let" | "rec"): Scope => {
    const scope: Scope = { vars: new Map(), isWith: false, parent: outer };
    for (const b of bindings) {
      const names = b.kind === "Bind" ? [b.path[0] as AttrName] : b.names;
      for (const n of names) {
        const name = staticAttrName(src, n);
        if (name !== undefined) declare(scope, name, n, kind, owner, b);
      }
    }
    for (const b of bindings) {
      if (b.kind === "Bind") {
        attrPath(owner, b.path, scope);
        visit(b.value, owner, scope);
      } else if (b.from) {
        visit(b.from, owner, scope);
        attrPath(owner, b.names, scope);
      } else {
        // `inherit a;` takes `a` from the enclosing scope, never from the set itself.
        for (const n of b.names) {
          const name = staticAttrName(src, n);
          if (name !== undefined) lookup(outer, name, n.start);
        }
        attrPath(owner, b.names, scope);
      }
    }
    return scope;
  };

  function visit(node: Expr, parent: Expr | undefined, scope: Scope): void {
    index?.add(node, parent);
    switch (node.kind) {
      case "Var":
        lookup(scope, node.name, node.start);
        return;
      case "SearchPath":
        // `<p>` is `__findFile __nixPath "p"`: both names are looked up like any variable.
        lookup(scope, "__findFile", node.start);
        lookup(scope, "__nixPath", node.start);
        return;
      case "Attrs":
        if (node.recursive) {
          recursiveBindings(node, node.bindings, scope, "rec");
          return;
        }
        for (const b of node.bindings) {
          if (b.kind === "Bind") {
            attrPath(node, b.path, scope);
            visit(b.value, node, scope);
            continue;
          }
          if (b.from) visit(b.from, node, scope);
          else
            for (const n of b.names) {
              const name = staticAttrName(src, n);
              if (name !== undefined) lookup(scope, name, n.start);
            }
          attrPath(node, b.names, scope);
        }
        return;
      case "LegacyLet":
        recursiveBindings(node, node.bindings, scope, "rec");
        return;
      case "Let": {
        const inner = recursiveBindings(node, node.bindings, scope, "let");
        visit(node.body, node, inner);
        return;
      }
      case "Lambda": {
        const inner: Scope = { vars: new Map(), isWith: false, parent: scope };
        if (node.param) declare(inner, node.param.name, node.param, "lambda", node);
        for (const f of node.formals?.formals ?? [])
          declare(inner, f.name, { start: f.start, end: f.start + f.name.length }, "formal", node);
        for (const f of node.formals?.formals ?? []) if (f.default) visit(f.default, node, inner);
        visit(node.body, node, inner);
        return;
      }
      case "With":
        visit(node.env, node, scope);
        visit(node.body, node, { vars: undefined, isWith: true, parent: scope });
        return;
      case "Select":
        visit(node.expr, node, scope);
        attrPath(node, node.path, scope);
        if (node.default) visit(node.default, node, scope);
        return;
      case "HasAttr":
        visit(node.expr, node, scope);
        attrPath(node, node.path, scope);
        return;
      default:
        forEachChild(node, visit, scope);
    }
  }

  visit(ast, undefined, { vars: undefined, isWith: false, parent: undefined });
  return result;
}
