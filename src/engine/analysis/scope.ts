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
  /** While this one is in scope: the declaration of the same name it hides, if any. */
  hides: Declaration | undefined;
}

export interface Resolution {
  undefinedVars: Array<{ name: string; start: number }>;
  declarations: Declaration[];
}

/**
 * A scope, as an item of the walk's stack: entering it brings its declarations (let, rec, a
 * function's arguments) or a `with` into scope. LEAVE, queued after what the scope covers, ends
 * the scope entered last.
 */
interface Scope {
  kind: "(scope)";
  decls: Declaration[];
  isWith: boolean;
}
const LEAVE = { kind: "(leave)" } as const;

/** With an `index`, every node visited is also added to it with its parent (one walk for both). */
export function resolveScopes(src: string, ast: Expr, index?: NodeIndex): Resolution {
  const result: Resolution = { undefinedVars: [], declarations: [] };

  // The innermost declaration of each name in scope (each one links to the one it hides), and how
  // many `with`s are around. A lookup reads one map entry, however deep the scopes are nested:
  // walking up a chain of scopes per variable costs variables × depth, which a file of thousands
  // of nested functions with thousands of variables inside makes quadratic.
  const visible = new Map<string, Declaration>();
  let withs = 0;
  const open: Scope[] = [];
  const lookup = (name: string, start: number) => {
    const decl = visible.get(name);
    if (decl) decl.uses++;
    else if (!GLOBALS.has(name) && withs === 0) result.undefinedVars.push({ name, start });
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
    const decl: Declaration = {
      name,
      start: at.start,
      end: at.end,
      kind,
      owner,
      binding,
      uses: 0,
      hides: undefined,
    };
    scope.decls.push(decl);
    result.declarations.push(decl);
  };
  const newScope = (isWith: boolean): Scope => ({ kind: "(scope)", decls: [], isWith });

  // The tree is walked with a stack of its own rather than by recursion: a chain such as
  // `a - b - c - …` or `f a b c …` is a tree as deep as it is long, and Nix accepts it at any
  // length. What a node leads to is pushed in source order, then that stretch of the stack is
  // reversed, so it comes off in source order: the index fills parents first, as a walk does.
  const stack: Array<Expr | Scope | typeof LEAVE> = [ast];
  const parents: Array<Expr | undefined> = [undefined];
  const next = (item: Expr | Scope | typeof LEAVE) => {
    stack.push(item);
  };
  const attrPath = (path: AttrName[]) => {
    for (const n of path) {
      if (n.kind === "Dynamic") stack.push(n.expr);
      else if (n.kind === "AttrString") stack.push(n.string);
    }
  };

  /** Bindings of let, rec sets and legacy let: every name is in scope for every value. */
  const recursiveBindings = (owner: Expr, bindings: Binding[], kind: "let" | "rec") => {
    const scope = newScope(false);
    for (const b of bindings) {
      const names = b.kind === "Bind" ? [b.path[0] as AttrName] : b.names;
      for (const n of names) {
        const name = staticAttrName(src, n);
        if (name !== undefined) declare(scope, name, n, kind, owner, b);
      }
    }
    // `inherit a;` takes `a` from the enclosing scope, never from the set itself: looked up now,
    // before the set's names are in scope.
    for (const b of bindings)
      if (b.kind === "Inherit" && !b.from)
        for (const n of b.names) {
          const name = staticAttrName(src, n);
          if (name !== undefined) lookup(name, n.start);
        }
    stack.push(scope);
    for (const b of bindings) {
      if (b.kind === "Bind") {
        attrPath(b.path);
        stack.push(b.value);
      } else {
        if (b.from) stack.push(b.from);
        attrPath(b.names);
      }
    }
  };

  while (stack.length > 0) {
    const item = stack.pop() as Expr | Scope | typeof LEAVE;
    const parent = parents.pop();
    const base = stack.length;
    switch (item.kind) {
      case "(scope)":
        open.push(item);
        if (item.isWith) withs++;
        for (const decl of item.decls) {
          decl.hides = visible.get(decl.name);
          visible.set(decl.name, decl);
        }
        continue;
      case "(leave)": {
        const scope = open.pop() as Scope;
        if (scope.isWith) withs--;
        for (let i = scope.decls.length - 1; i >= 0; i--) {
          const decl = scope.decls[i] as Declaration;
          if (decl.hides) visible.set(decl.name, decl.hides);
          else visible.delete(decl.name);
        }
        continue;
      }
      case "Var":
        index?.add(item, parent);
        lookup(item.name, item.start);
        continue;
      case "SearchPath":
        index?.add(item, parent);
        // `<p>` is `__findFile __nixPath "p"`: both names are looked up like any variable.
        lookup("__findFile", item.start);
        lookup("__nixPath", item.start);
        continue;
      case "Attrs":
        index?.add(item, parent);
        if (item.recursive) {
          recursiveBindings(item, item.bindings, "rec");
          stack.push(LEAVE);
          break;
        }
        for (const b of item.bindings) {
          if (b.kind === "Bind") {
            attrPath(b.path);
            stack.push(b.value);
            continue;
          }
          if (b.from) stack.push(b.from);
          else
            for (const n of b.names) {
              const name = staticAttrName(src, n);
              if (name !== undefined) lookup(name, n.start);
            }
          attrPath(b.names);
        }
        break;
      case "LegacyLet":
        index?.add(item, parent);
        recursiveBindings(item, item.bindings, "rec");
        stack.push(LEAVE);
        break;
      case "Let":
        index?.add(item, parent);
        recursiveBindings(item, item.bindings, "let");
        stack.push(item.body, LEAVE);
        break;
      case "Lambda": {
        index?.add(item, parent);
        const inner = newScope(false);
        if (item.param) declare(inner, item.param.name, item.param, "lambda", item);
        for (const f of item.formals?.formals ?? [])
          declare(inner, f.name, { start: f.start, end: f.start + f.name.length }, "formal", item);
        stack.push(inner);
        for (const f of item.formals?.formals ?? []) if (f.default) stack.push(f.default);
        stack.push(item.body, LEAVE);
        break;
      }
      case "With":
        index?.add(item, parent);
        stack.push(item.env, newScope(true), item.body, LEAVE);
        break;
      case "Select":
        index?.add(item, parent);
        stack.push(item.expr);
        attrPath(item.path);
        if (item.default) stack.push(item.default);
        break;
      case "HasAttr":
        index?.add(item, parent);
        stack.push(item.expr);
        attrPath(item.path);
        break;
      default:
        index?.add(item, parent);
        forEachChild(item, next, undefined);
    }
    // What `item` led to, pushed in source order, comes off the stack reversed; all of it has
    // `item` for its parent.
    for (let i = base, j = stack.length - 1; i < j; i++, j--) {
      const swap = stack[i] as Expr | Scope | typeof LEAVE;
      stack[i] = stack[j] as Expr | Scope | typeof LEAVE;
      stack[j] = swap;
    }
    while (parents.length < stack.length) parents.push(item);
  }
  // An `inherit`'s names are looked up when its set is reached, before the values written ahead
  // of it: source order is restored here (the sort is stable, so `<p>`'s two names keep theirs).
  result.undefinedVars.sort((a, b) => a.start - b.start);
  return result;
}
