/**
 * Hostile input costs what ordinary input of the same size costs. Each file is about 1 MB of one
 * construct repeated (runs of one operator, nesting, long tokens, many bindings or errors; see
 * hostile-nix.ts), scanned as a scan scans each file, and compared with a 1 MB file in the shape of
 * a NixOS module. A quadratic path shows as hundreds of times slower (80 KB of `1-1-1-…` took 11 s);
 * linear ones stay within a small factor. CPU time and ratios only: the machine may be busy.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_NESTING } from "../../src/engine/analysis/parser.js";
import { validateSyntax } from "../../src/engine/analysis/scan.js";
import { createEngine } from "../../src/engine/engine.js";
import { HOSTILE, SIZE } from "./hostile-nix.js";
import { slowCases } from "./measure.js";

describe("analysis time is linear in the input", () => {
  it("scans 1 MB of any construct in at most 10x what an ordinary 1 MB module takes", async () => {
    for (const [name, code] of Object.entries(HOSTILE)) expect(code.length, name).toBeGreaterThan(SIZE * 0.9);
    const entry = new URL("./linear-worker.ts", import.meta.url);
    // The stack of the thread that scans deeply nested files: they are parsed to Nix's limit.
    expect(await slowCases(entry, Object.keys(HOSTILE), 10, 256)).toEqual([]);
  }, 900_000);
});

describe("deep nesting", () => {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-deep-"));
  const engine = createEngine({ flake: dir, logFile: false });
  afterAll(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is parsed up to Nix's own limit and rejected beyond it with a clear error, never a stack overflow", async () => {
    const nest = (open: string, inner: string, close: string, n: number) =>
      open.repeat(n) + inner + close.repeat(n);
    // nix-instantiate --parse accepts 9,000 nested parentheses and gives up at 10,000.
    writeFileSync(join(dir, "within.nix"), nest("(", "1", ")", 9_000));
    writeFileSync(join(dir, "at-limit.nix"), nest("(", "1", ")", MAX_NESTING));
    writeFileSync(join(dir, "parens.nix"), nest("(", "1", ")", SIZE / 2));
    writeFileSync(join(dir, "lists.nix"), nest("[", "1", "]", SIZE / 2));
    writeFileSync(join(dir, "sets.nix"), nest("{a=", "1", ";}", SIZE / 5));
    const out = await validateSyntax(engine, { flake: dir });
    expect(out.filesChecked).toBe(5);
    const tooDeep = expect.stringMatching(
      new RegExp(
        `^expressions nest more than ${MAX_NESTING} levels deep here, beyond what Nix's parser accepts`,
      ),
    );
    expect(out.errors.map((e) => [e.file, e.message])).toEqual([
      ["at-limit.nix", tooDeep],
      ["lists.nix", tooDeep],
      ["parens.nix", tooDeep],
      ["sets.nix", tooDeep],
    ]);
  }, 300_000);
});
