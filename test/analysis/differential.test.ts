/**
 * The parser against Nix itself: every file of the corpus gets the same accept/reject verdict from
 * our parser as from `nix-instantiate --parse`. The corpus is the fixture flakes plus one file per
 * tricky form (test/analysis/corpus: `valid-*` and `invalid-*`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSyntax, SourceText } from "../../src/engine/analysis/source.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CORPUS = join(import.meta.dirname, "corpus");

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".nix"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function nixUnavailable(): string | undefined {
  const probe = spawnSync("nix-instantiate", ["--version"], { stdio: "ignore" });
  if (!probe.error) return undefined;
  if (process.env.CI === "true")
    throw new Error("CI must run the differential parser test, but nix-instantiate is missing");
  console.warn("skipping the differential parser test: nix-instantiate is missing (apt-get install nix-bin)");
  return "nix-instantiate is missing";
}

const files = [...nixFiles(CORPUS), ...nixFiles(join(ROOT, "test", "fleet", "fixture"))];

describe.skipIf(nixUnavailable())("parser verdicts agree with nix-instantiate --parse", () => {
  it("has a corpus with both verdicts", () => {
    expect(files.length).toBeGreaterThan(60);
    expect(files.some((f) => f.includes("invalid-"))).toBe(true);
  });

  it.each(files.map((f) => [relative(ROOT, f), f]))("%s", (_name, file) => {
    const nix = spawnSync("nix-instantiate", ["--parse", file], { encoding: "utf8" });
    const nixAccepts = nix.status === 0;
    const ours = checkSyntax(new SourceText(readFileSync(file)));
    const detail = ours.errors.map((e) => e.message).join("; ") || "accepted";
    expect(`${nixAccepts ? "accepted" : "rejected"}`, `${nix.stderr.trim()}\nours: ${detail}`).toBe(
      ours.errors.length === 0 ? "accepted" : "rejected",
    );
  });

  it("agrees on seeded mutations of the valid corpus (tokens inserted, text deleted)", () => {
    const scratch = mkdtempSync(join(tmpdir(), "nix-deploy-mutants-"));
    try {
      const disagreements: string[] = [];
      for (const mutant of mutants(150)) {
        const file = join(scratch, "mutant.nix");
        writeFileSync(file, mutant, "latin1");
        const nixAccepts = spawnSync("nix-instantiate", ["--parse", file], { stdio: "ignore" }).status === 0;
        const oursAccepts = checkSyntax(new SourceText(Buffer.from(mutant, "latin1"))).errors.length === 0;
        if (nixAccepts !== oursAccepts)
          disagreements.push(`${nixAccepts ? "nix accepts" : "nix rejects"}: ${JSON.stringify(mutant)}`);
      }
      expect(disagreements).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

/** Deterministic variations of the valid corpus: the edges of the grammar, where parsers disagree. */
function mutants(count: number): string[] {
  const sources = nixFiles(CORPUS)
    .filter((f) => f.includes("valid-") && !f.includes("invalid-"))
    .map((f) => readFileSync(f, "latin1"));
  const pieces = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ":",
    "=",
    ".",
    "/",
    "$",
    "${",
    "''",
    "'",
    '"',
    "\\",
    "or",
    "let",
    "in",
    " ",
    "\n",
    "@",
    "?",
    ",",
    "...",
    "#",
    "/*",
    "*/",
    "-",
    "!",
    "~",
    "<",
    ">",
    "+",
    "a",
    "1",
    "x",
    // The lexer's shortcuts: identifier and path runs, dotted names, numbers, keywords by table.
    "a'",
    "a.b.c",
    "1.",
    ".5",
    "e5",
    "x/y",
    "~/",
    "<a>",
    "http:",
    "inherit",
    "9223372036854775808",
    "++",
    "//",
  ];
  let seed = 20240601;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  return Array.from({ length: count }, () => {
    let text = sources[next(sources.length)] as string;
    for (let k = 0, edits = 1 + next(2); k < edits; k++) {
      const at = next(text.length + 1);
      text =
        next(3) === 0
          ? text.slice(0, at) + text.slice(at + 1 + next(3))
          : text.slice(0, at) + pieces[next(pieces.length)] + text.slice(at);
    }
    return text;
  });
}
