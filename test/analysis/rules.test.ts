/**
 * Every rule fires on a positive case and stays silent on a near miss; every auto-fix yields code
 * that still parses (our parser and, where installed, nix-instantiate --parse) and no longer fires.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeSource, fixSource } from "../../src/engine/analysis/analyze.js";
import { ANTIPATTERN_CODES } from "../../src/engine/analysis/rules/index.js";
import { checkSyntax, SourceText } from "../../src/engine/analysis/source.js";

interface Case {
  code: string;
  positive: string;
  nearMiss: string;
  /** The file after the fix, when the rule has one. */
  fixed?: string;
}

const cases: Case[] = [
  { code: "bool-comparison", positive: "x: x == true", nearMiss: "x: x == 1", fixed: "x: x" },
  {
    code: "bool-comparison",
    positive: "x: y: false != (x y)",
    nearMiss: "x: true == false",
    fixed: "x: y: (x y)",
  },
  { code: "bool-comparison", positive: "x: x.a == false", nearMiss: "x: x.a == null", fixed: "x: !x.a" },
  { code: "empty-let-in", positive: "let in 1", nearMiss: "let a = 1; in a", fixed: "1" },
  {
    code: "manual-inherit",
    positive: "a: { a = a; }",
    nearMiss: "a: rec { b = a; }",
    fixed: "a: { inherit a; }",
  },
  {
    code: "manual-inherit-from",
    positive: "x: { a = x.a; }",
    nearMiss: "x: { a = x.b; }",
    fixed: "x: { inherit (x) a; }",
  },
  {
    code: "manual-inherit-from",
    positive: "x: { b = x.y.b; }",
    nearMiss: "x: { b = x.y.b or 1; }",
    fixed: "x: { inherit (x.y) b; }",
  },
  {
    code: "legacy-let",
    positive: "let { a = 1; body = a; }",
    nearMiss: "let a = 1; in a",
    fixed: "rec { a = 1; body = a; }.body",
  },
  {
    code: "collapsible-let-in",
    positive: "let a = 1; in let b = a; in b",
    nearMiss: "let a = 1; in [ (let b = a; in b) ]",
    fixed: "let a = 1;  b = a; in b",
  },
  { code: "eta-reduction", positive: "f: map (x: f x)", nearMiss: "f: map (x: f x x)", fixed: "f: map (f)" },
  { code: "eta-reduction", positive: "g: x: g.h x", nearMiss: "x: x.f x", fixed: "g: g.h" },
  {
    code: "useless-parens",
    positive: "x: { a = (x 1); }",
    nearMiss: "x: { a = x (x 1); }",
    fixed: "x: { a = x 1; }",
  },
  { code: "useless-parens", positive: "f: f(1)", nearMiss: "f: f (-1)", fixed: "f: f 1" },
  { code: "useless-parens", positive: "a: a+(a)", nearMiss: "a: a+(-a)", fixed: "a: a+ a" },
  { code: "empty-pattern", positive: "{ ... }: 1", nearMiss: "{ a, ... }: a", fixed: "_: 1" },
  {
    code: "redundant-pattern-bind",
    positive: "args @ { ... }: args",
    nearMiss: "args @ { a, ... }: a",
    fixed: "args: args",
  },
  {
    code: "redundant-pattern-bind",
    positive: "{ ... } @ args: args",
    nearMiss: "{ ... }: 1",
    fixed: "args: args",
  },
  {
    code: "unquoted-uri",
    positive: "{ url = https://example.org/a.tar.gz; }",
    nearMiss: '{ url = "https://example.org/a.tar.gz"; }',
    fixed: '{ url = "https://example.org/a.tar.gz"; }',
  },
  {
    code: "empty-inherit",
    positive: "{\n  a = 1;\n  inherit;\n}",
    nearMiss: "a: { inherit a; }",
    fixed: "{\n  a = 1;\n}",
  },
  { code: "deprecated-to-path", positive: 'builtins.toPath "/etc"', nearMiss: 'builtins.toString "/etc"' },
  {
    code: "bool-simplification",
    positive: "a: b: !(a == b)",
    nearMiss: "a: b: !(a && b)",
    fixed: "a: b: a != b",
  },
  {
    code: "bool-simplification",
    positive: "a: b: [ (!(a == b)) ]",
    nearMiss: "a: !a",
    fixed: "a: b: [ (a != b) ]",
  },
  {
    code: "useless-has-attr",
    positive: "x: if x ? a then x.a else 1",
    nearMiss: "x: if x ? a then x.b else 1",
    fixed: "x: x.a or 1",
  },
  {
    code: "useless-has-attr",
    positive: "x: y: if x ? a.b then x.a.b else y 2",
    nearMiss: "x: y: if y ? a then x.a else 2",
    fixed: "x: y: x.a.b or (y 2)",
  },
  {
    code: "repeated-keys",
    positive: "{ a.b = 1; a.c = 2; a.d = 3; }",
    nearMiss: "{ a.b = 1; a.c = 2; e.d = 3; }",
  },
  { code: "empty-list-concat", positive: "x: [ ] ++ x", nearMiss: "x: [ 1 ] ++ x", fixed: "x: x" },
  { code: "empty-list-concat", positive: "x: x ++ []", nearMiss: "x: x ++ [ x ]", fixed: "x: x" },
  {
    code: "unused-binding",
    positive: "let\n  a = 1;\n  b = 2;\nin a",
    nearMiss: "let\n  a = 1;\n  b = a;\nin b",
    fixed: "let\n  a = 1;\nin a",
  },
  { code: "unused-binding", positive: "{ a, b }: a", nearMiss: "{ a, _b }: a" },
  { code: "unused-binding", positive: "x: 1", nearMiss: "x: x" },
  {
    code: "mkif-true",
    positive: "{ lib, ... }: { services.x = lib.mkIf true { enable = true; }; }",
    nearMiss: "{ lib, config, ... }: { services.x = lib.mkIf config.y { enable = true; }; }",
    fixed: "{ lib, ... }: { services.x = { enable = true; }; }",
  },
  {
    code: "mkif-false",
    positive: "{ lib, ... }: { services.x = lib.mkIf false { enable = true; }; }",
    nearMiss: "{ lib, ... }: { services.x = lib.mkDefault false; }",
  },
  {
    code: "update-with-mkif",
    positive: "{ lib, c, ... }: { a = 1; } // lib.mkIf c { b = 2; }",
    nearMiss: "{ lib, c, ... }: lib.mkMerge [ { a = 1; } (lib.mkIf c { b = 2; }) ]",
    fixed: "{ lib, c, ... }: lib.mkMerge [ { a = 1; } (lib.mkIf c { b = 2; }) ]",
  },
  {
    code: "top-level-with-pkgs",
    positive: "{ pkgs, ... }: with pkgs; { environment.systemPackages = [ hello ]; }",
    nearMiss: "{ pkgs, ... }: { environment.systemPackages = with pkgs; [ hello ]; }",
  },
  { code: "lookup-path", positive: "{ x = <nixpkgs/lib>; }", nearMiss: '{ x = "<nixpkgs/lib>"; }' },
  {
    code: "import-nixpkgs",
    positive: "let pkgs = import <nixpkgs> { }; in pkgs.hello",
    nearMiss: "{ inputs, ... }: inputs.nixpkgs",
  },
  {
    code: "secret-read-at-eval",
    positive: "{ token = builtins.readFile ./secrets/api-token.txt; }",
    nearMiss: "{ motd = builtins.readFile ./motd.txt; }",
  },
  {
    code: "secret-read-at-eval",
    positive: '{ lib, ... }: { k = lib.fileContents "${./wg.key}"; }',
    nearMiss: "{ lib, ... }: { k = lib.fileContents ./wg.pub; }",
  },
  {
    code: "secret-path-in-store",
    positive: "{ sslCertificateKey = ./certs/server.key; }",
    nearMiss: "{ age.secrets.x.file = ./secrets/x.age; }",
  },
  {
    code: "plain-password",
    positive: '{ users.users.alice.initialPassword = "hunter2"; }',
    nearMiss: '{ users.users.alice.hashedPasswordFile = "/run/secrets/alice"; }',
  },
  {
    code: "hardcoded-store-path",
    positive: '{ x = "/nix/store/0c0mzx2hlrq8wd27mfnxa7gycrk96h6k-hello-2.12/bin/hello"; }',
    nearMiss: '{ x = "/nix/store"; }',
  },
];

const scratch = mkdtempSync(join(tmpdir(), "nix-deploy-rules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const hasNix = !spawnSync("nix-instantiate", ["--version"], { stdio: "ignore" }).error;

function codesIn(code: string): string[] {
  const result = analyzeSource("case.nix", SourceText.fromString(code), { inFlake: true });
  expect(result.syntaxErrors, `case must parse: ${code}`).toEqual([]);
  return result.findings.map((f) => f.code);
}

function nixAccepts(code: string): boolean {
  const file = join(scratch, "fixed.nix");
  writeFileSync(file, code);
  return spawnSync("nix-instantiate", ["--parse", file], { stdio: "ignore" }).status === 0;
}

describe("anti-pattern rules", () => {
  it("has a case for every code", () => {
    const covered = new Set(cases.map((c) => c.code));
    expect(ANTIPATTERN_CODES.filter((c) => !covered.has(c))).toEqual([]);
  });

  it.each(cases.map((c) => [c.code, c.positive, c]))("%s fires on %j", (_code, _text, c) => {
    expect(codesIn(c.positive)).toContain(c.code);
  });

  it.each(cases.map((c) => [c.code, c.nearMiss, c]))("%s is silent on %j", (_code, _text, c) => {
    expect(codesIn(c.nearMiss)).not.toContain(c.code);
  });

  const fixCases = cases.filter((c) => c.fixed !== undefined);
  it.each(fixCases.map((c) => [c.code, c.positive, c]))("%s fixes %j", (_code, _text, c) => {
    const { source } = fixSource("case.nix", SourceText.fromString(c.positive), { codes: new Set([c.code]) });
    const text = source.bytes.toString("utf8");
    expect(text).toBe(c.fixed);
    expect(checkSyntax(source).errors).toEqual([]);
    expect(codesIn(text)).not.toContain(c.code);
    if (hasNix) expect(nixAccepts(text), `nix-instantiate --parse rejects: ${text}`).toBe(true);
  });

  it("a rule without a fix offers none", () => {
    const result = analyzeSource("case.nix", SourceText.fromString('builtins.toPath "/etc"'));
    expect(result.findings.find((f) => f.code === "deprecated-to-path")?.fix).toBeUndefined();
  });

  it("is silenced by `# nix-deploy: allow CODE` on the line before, and only for that code", () => {
    const code = "x:\n# nix-deploy: allow bool-comparison\n[ (x == true)\n  (x == false) ]";
    const findings = analyzeSource("case.nix", SourceText.fromString(code)).findings.filter(
      (f) => f.code === "bool-comparison",
    );
    expect(findings.map((f) => f.line)).toEqual([4]);
    const other = "x:\n# nix-deploy: allow eta-reduction\n[ (x == true) ]";
    expect(codesIn(other)).toContain("bool-comparison");
  });

  it("reports a secret file read once, as read, however deeply the readers nest", () => {
    const nested = (depth: number) =>
      `readFile: ${'readFile "${./s.key}${'.repeat(depth)}1${'}"'.repeat(depth)}`;
    expect(codesIn(nested(1))).toEqual(["secret-read-at-eval"]);
    expect(codesIn(nested(50))).toEqual(Array.from({ length: 50 }, () => "secret-read-at-eval"));
    expect(codesIn("{ a = ./s.key; b = builtins.readFile ./s.key; }")).toEqual([
      "secret-path-in-store",
      "secret-read-at-eval",
    ]);
  });

  it("quotes at most 60 characters of code or of a name in a message", () => {
    const name = "a".repeat(1000);
    const [unused] = analyzeSource("case.nix", SourceText.fromString(`let ${name} = 1; in 2`)).findings;
    expect(unused?.message).toBe(`\`${"a".repeat(60)}…\` is bound but never used; remove it`);
    const [eta] = analyzeSource("case.nix", SourceText.fromString(`f: x: f ${"1 ".repeat(100)}x`)).findings;
    expect(eta?.code).toBe("eta-reduction");
    expect(eta?.message.length).toBeLessThan(250);
    // The fix still replaces the whole expression.
    expect(eta?.fix?.[0]?.replacement).toBe(`f ${"1 ".repeat(99)}1`);
  });

  it("reports a syntax error with its position instead of running the rules", () => {
    const result = analyzeSource("broken.nix", SourceText.fromString("{\n  a = 1\n}"));
    expect(result.findings).toEqual([]);
    expect(result.syntaxErrors).toMatchObject([
      { code: "syntax-error", severity: "block", line: 3, column: 1, source: "}" },
    ]);
  });
});
