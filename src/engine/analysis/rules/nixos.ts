/**
 * Anti-pattern rules specific to NixOS modules and flakes: `mkIf` with a constant, `//` over `mkIf`,
 * `with pkgs;` around a whole module, and `<nixpkgs>` lookups that a pure flake evaluation lacks.
 */

import { shown } from "../parser.js";
import { type Expr, unparen } from "../syntax.js";
import { asOperand, callParts, flag, headName, isBoolVar, isCall, type Rule, textOf } from "./define.js";

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
