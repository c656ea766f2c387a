import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSyntax, MAX_LISTED_ERRORS, SourceText } from "../../src/engine/analysis/source.js";
import { type Expr, NodeIndex, walk } from "../../src/engine/analysis/syntax.js";

const check = (code: string) => {
  const source = SourceText.fromString(code);
  const result = checkSyntax(source);
  return {
    source,
    result,
    at: result.errors.map((e) => ({ message: e.message, ...source.position(e.offset) })),
  };
};

describe("the Nix parser", () => {
  it("keeps going after a broken binding and reports each one with line and column", () => {
    const { at } = check("{\n  a = ;\n  b = 1;\n  c = 2 d = 3;\n  e = 4;\n}\n");
    expect(at).toEqual([
      { message: "unexpected ';'", line: 2, column: 7, offset: 8 },
      { message: "unexpected '=', expecting ';'", line: 4, column: 11, offset: 29 },
    ]);
  });

  it("counts columns and offsets in bytes, as Nix does, after non-ASCII text", () => {
    const { at, source } = check('{ a = "é€"; b = c; }');
    expect(at).toEqual([{ message: "undefined variable 'c'", line: 1, column: 20, offset: 19 }]);
    expect(source.lineText(1)).toBe('{ a = "é€"; b = c; }');
  });

  it("reports undefined variables only when the file parses, as nix-instantiate does", () => {
    expect(check("x: y").at.map((e) => e.message)).toEqual(["undefined variable 'y'"]);
    expect(check("with pkgs; y").at.map((e) => e.message)).toEqual(["undefined variable 'pkgs'"]);
    expect(check("{ pkgs }: with pkgs; [ y z ]").result.errors).toEqual([]);
  });

  it("builds a tree with exact ranges", () => {
    const { source, result } = check("let a = 1; in a.b or 2");
    expect(result.ast?.kind).toBe("Let");
    const body = result.ast?.kind === "Let" ? result.ast.body : undefined;
    expect(body?.kind).toBe("Select");
    expect(source.slice(body?.start ?? 0, body?.end ?? 0)).toBe("a.b or 2");
  });

  it("rejects an empty file and a lone trailing slash with a position", () => {
    expect(check("").at[0]).toMatchObject({ message: "unexpected end of file", line: 1, column: 1 });
    expect(check("\n  ./a/").at[0]).toMatchObject({
      message: "path has a trailing slash",
      line: 2,
      column: 3,
    });
  });

  it("turns nesting deeper than the stack into a finding, not a crash", () => {
    const { at } = check(`${"(".repeat(200_000)}1${")".repeat(200_000)}`);
    expect(at[0]?.message).toBe("expression nested too deeply to parse");
    expect(at[0]?.line).toBe(1);
  });

  it("accepts chains far longer than the call stack is deep, as Nix does at any length", () => {
    // Left-associative chains are trees as deep as they are long; resolution walks them without recursion.
    expect(check(`x: x${" - x".repeat(200_000)}`).at).toEqual([]);
    expect(check(`f: f${" 1".repeat(200_000)}`).at).toEqual([]);
    expect(check(`x: ${"x.a or ".repeat(100)}x`).at).toEqual([]);
  });

  it("lists the first hundred errors of a file and counts the rest, with names and numbers cut short", () => {
    const { at } = check(`[ ${"a ".repeat(250)}]`);
    expect(at).toHaveLength(MAX_LISTED_ERRORS + 1);
    expect(at[0]).toMatchObject({ message: "undefined variable 'a'", column: 3 });
    expect(at[MAX_LISTED_ERRORS]).toMatchObject({
      message:
        "150 more syntax errors from here to the end of the file, not listed one by one; fix the first ones and check again",
      column: 3 + 2 * MAX_LISTED_ERRORS,
    });
    expect(check(`${"9".repeat(100_000)}`).at[0]?.message).toBe(`invalid integer '${"9".repeat(60)}…'`);
    expect(check(`x: ${"y".repeat(100_000)}`).at[0]?.message).toBe(`undefined variable '${"y".repeat(60)}…'`);
  });

  it("indexes every node with its parent during variable resolution, as a walk of the tree does", () => {
    const corpus = join(import.meta.dirname, "corpus");
    const kinds: Expr["kind"][] = [
      "Var",
      "Select",
      "Apply",
      "Attrs",
      "String",
      "Path",
      "Lambda",
      "Let",
      "Paren",
    ];
    const describeIndex = (each: (kind: Expr["kind"], visit: (node: Expr, parent?: Expr) => void) => void) =>
      kinds.map((kind) => {
        const seen: string[] = [];
        each(kind, (node, parent) => seen.push(`${node.start}-${node.end}<${parent?.kind}`));
        return seen;
      });
    const walked = (ast: Expr) => (kind: Expr["kind"], visit: (node: Expr, parent?: Expr) => void) =>
      walk(ast, (node, parent) => {
        if (node.kind === kind) visit(node, parent);
      });
    let compared = 0;
    for (const name of readdirSync(corpus).filter((f) => f.startsWith("valid-"))) {
      const filled = new NodeIndex();
      const { ast, errors } = checkSyntax(new SourceText(readFileSync(join(corpus, name))), filled);
      if (!ast || errors.length > 0) continue;
      expect(
        describeIndex((kind, visit) => filled.each(kind, visit)),
        name,
      ).toEqual(describeIndex(walked(ast)));
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(20);
  });
});
