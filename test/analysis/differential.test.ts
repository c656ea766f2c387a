/**
 * The parser against Nix itself: every file of the corpus gets the same accept/reject verdict from
 * our parser as from `nix-instantiate --parse`. The corpus is the fixture flakes plus one file per
 * tricky form (test/analysis/corpus: `valid-*` and `invalid-*`).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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
});
