/**
 * Inputs for the linearity test: about 1 MB of one construct repeated, and an ordinary file of the
 * same size to compare with. A module of its own so that the measuring thread can load it.
 */
export const SIZE = 1_000_000;

const times = (unit: string) => unit.repeat(Math.floor(SIZE / unit.length));
const nested = (open: string, inner: string, close: string) => {
  const n = Math.floor(SIZE / (open.length + close.length));
  return open.repeat(n) + inner + close.repeat(n);
};
/** Copies of a form nested 4,000 deep (within MAX_NESTING) in a list, up to the size. */
const deepCopies = (make: (depth: number) => string) => {
  const one = make(4_000);
  return `[ ${Array.from({ length: Math.ceil(SIZE / one.length) }, () => one).join(" ")} ]`;
};

/** `make(0) make(1) …` up to the size (`share` of it when the file holds more than this list). */
const numbered = (make: (i: number) => string, separator = " ", share = 1) => {
  const parts: string[] = [];
  for (let i = 0, length = 0; length < SIZE * share; i++) {
    parts.push(make(i));
    length += (parts[i] as string).length + separator.length;
  }
  return parts.join(separator);
};

/** A NixOS module of about 1 MB: the yardstick. */
export function ordinary(): string {
  let body = "";
  for (let i = 0; body.length < SIZE - 200; i++)
    body += `
  services.svc${i} = {
    enable = true;
    description = "service ${i} for \${config.networking.hostName}";
    ports = [ ${i % 65000} 8080 ];
    script = ''
      exec \${pkgs.hello}/bin/hello --id=\${toString cfg.level}
    '';
    settings = lib.mkIf (cfg.enable && cfg.level > ${i % 7}) {
      path = ./data/file${i}.txt;
      values = map (x: x * 2 + ${i % 13}) [ 1 2 3 ];
      merged = { a = 1; } // { b = "x"; };
      nested.deep.attr = if cfg.level == ${i % 3} then null else [ "a" "b" ];
    };
  };`;
  return `{ config, lib, pkgs, ... }:\nlet\n  cfg = config.services.bench;\nin\n{${body}}\n`;
}

export const HOSTILE: Record<string, string> = {
  // Runs of one operator. `1-1-1-…` is one run of path characters: the lexer read the rest of the
  // run again for every token in it.
  "1-1-1-…": `{ x = 1${times("-1")}; }`,
  "1+1+1+…": `{ x = 1${times("+1")}; }`,
  "1*1*1*…": `{ x = 1${times("*1")}; }`,
  "1 / 1 / …": `{ x = 1${times(" / 1")}; }`,
  "1-1-1… before /": `{ x = 1${times("-1")}/ 2; }`,
  "1+1+1… before :": `{ x = 1${times("+1")}: 1; }`,
  "a.a.a… before :": `{ x = a${times(".a")}: 1; }`,
  "[ ] ++ [ ] ++ …": `{ x = [ ]${times(" ++ [ ]")}; }`,
  "{ } // { } // …": `{ x = { }${times(" // { }")}; }`,
  "a || a || …": `a: a${times(" || a")}`,
  "a && a && …": `a: a${times(" && a")}`,
  "a -> a -> …": `a: a${times(" -> a")}`,
  "a ? a ? …": `a: a${times(" ? a")}`,
  "a.a.a.a…": `a: a${times(".a")}`,
  "a.a or a.a or …": `a: a.a${times(" or a.a")}`,
  "f a a a …": `f: a: f${times(" a")}`,
  "mkIf a a a …": `mkIf: a: mkIf${times(" a")}`,
  "- - - 1": `${times("- ")}1`,
  "!!!!a": `a: ${times("!")}a`,
  // Deep nesting: a clear error at Nix's limit, never a stack overflow.
  "((((…))))": nested("(", "1", ")"),
  "[[[[…]]]]": nested("[", "1", "]"),
  "{a={a=…}}": nested("{a=", "1", ";}"),
  "rec { a = rec { …": nested("rec{a=", "1", ";}"),
  "let … in let … in": `${times("let a = 1; in ")}a`,
  "x: x: x: …": `${times("x: ")}x`,
  "if a then if a then …": `a: ${times("if a then ")}1${" else 1".repeat(SIZE / 20)}`,
  "with a; with a; …": `a: ${times("with a; ")}1`,
  '"${"${"${…': nested('"${', '"1"', '}"'),
  "{ a ? { a ? … }: 1 }: 1": nested("{a?", "1", "}:1"),
  // Nested as deep as Nix allows, again and again up to the size: what depth costs beyond linear
  // (a rule that reads each level's whole inside) shows here.
  "let a = (let a = (… in let …, 4,000 deep": deepCopies(
    (d) => `(${"let a = (".repeat(d)}1${") ; in let b = a; in b".repeat(d)})`,
  ),
  "x: (x: (… f) x) x, 4,000 deep": deepCopies((d) => `(f: ${"x: (".repeat(d)}f${") x".repeat(d)})`),
  "x0: x1: … x3999: [ x0 x1 … ], 4,000 deep": deepCopies(
    (d) =>
      `(${Array.from({ length: d }, (_, i) => `x${i}:`).join(" ")} [ ${Array.from({ length: 20_000 }, (_, i) => `x${i % d}`).join(" ")} ])`,
  ),
  "with a; with a; … [ y y … ], 4,000 deep": deepCopies(
    (d) => `(a: ${"with a; ".repeat(d)}[ ${times("y ").slice(0, SIZE / 20)}])`,
  ),
  "{ a = { a = … }; }, 4,000 deep": deepCopies((d) => `${"{ a = ".repeat(d)}1${"; }".repeat(d)}`),
  'readFile "${./s.key}${readFile …, 2,000 deep': deepCopies(
    (d) => `(readFile: ${'readFile "${./s.key}${'.repeat(d / 2)}1${'}"'.repeat(d / 2)})`,
  ),
  // Long tokens.
  "a long string": `"${times("a")}"`,
  "a long indented string": `''${times("a''$''\\n")}''`,
  "a long identifier": `${times("a")}: 1`,
  "a long integer": times("1"),
  "a long path": `./${times("a/")}a`,
  "a long path with interpolations": `a: ./a${times("${a}")}`,
  "a long comment": `# ${times("a")}\n1`,
  "many unterminated /*": `{ ${times("a = /*;")} }`,
  // Many of one thing.
  "many bindings": `{ ${numbered((i) => `a${i} = ${i};`)} }`,
  "a.b0 = …; a.b1 = …; …": `{ ${numbered((i) => `a.b${i} = 1;`)} }`,
  "a.a.a.….a = 1": `{ ${times("a.")}a = 1; }`,
  "many formals": `{ ${numbered((i) => `a${i}`, ", ")} }: 1`,
  "many inherits": `a: { inherit ${numbered((i) => `a${i}`)}; }`,
  "many unused let bindings": `let ${numbered((i) => `a${i} = 1;`)} in 1`,
  "let … in let … in, wide": `let ${numbered((i) => `a${i} = b;`, " ", 0.5)} b = 1; in let ${numbered((i) => `c${i} = 1;`, " ", 0.5)} in 1`,
  "many broken bindings": `{ ${times("a = ; ")} }`,
  "many duplicate attributes": `{ ${times("a = 1; ")} }`,
  "many undefined variables": `[ ${times("a ")}]`,
};
