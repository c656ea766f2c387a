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
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_NESTING } from "../../src/engine/analysis/parser.js";
import { validateSyntax } from "../../src/engine/analysis/scan.js";
import { createEngine } from "../../src/engine/engine.js";
import { HOSTILE, SIZE } from "./hostile-nix.js";

const MAX_RATIO = 10;
/**
 * A file still running after this many times the ordinary file's CPU time (in wall-clock time,
 * which a busy machine stretches) is not going to pass: the thread is stopped rather than left to
 * run for hours.
 */
const GIVE_UP_RATIO = 5 * MAX_RATIO;

type Message =
  | { yardstick: number }
  | { start: string; bytes: number }
  | { done: string; ms: number }
  | { finished: true };

/**
 * Runs linear-worker.ts (TypeScript: the thread registers tsx first, as the test runner does) over
 * the files not in `skip`; stops it at the first file that runs past GIVE_UP_RATIO.
 */
function measure(
  skip: string[],
): Promise<{ ratios: Record<string, number>; sizes: Record<string, number>; gaveUp?: string }> {
  const entry = new URL("./linear-worker.ts", import.meta.url);
  const worker = new Worker(
    `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`,
    { eval: true, workerData: { skip } },
  );
  const ratios: Record<string, number> = {};
  const sizes: Record<string, number> = {};
  let yardstick = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    const finish = (gaveUp?: string) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve({ ratios, sizes, gaveUp });
    };
    worker.on("error", reject);
    worker.on("message", (m: Message) => {
      if ("yardstick" in m) yardstick = m.yardstick;
      else if ("start" in m) {
        sizes[m.start] = m.bytes;
        timer = setTimeout(() => finish(m.start), yardstick * GIVE_UP_RATIO);
      } else if ("done" in m) {
        clearTimeout(timer);
        ratios[m.done] = m.ms / yardstick;
      } else finish();
    });
  });
}

describe("analysis time is linear in the input", () => {
  it("scans 1 MB of any construct in a few times what an ordinary 1 MB module takes", async () => {
    const ratios: Record<string, number> = {};
    const sizes: Record<string, number> = {};
    const gaveUp: string[] = [];
    // A file given up on stops its thread; the others are measured on a new one.
    while (Object.keys(ratios).length + gaveUp.length < Object.keys(HOSTILE).length) {
      const run = await measure([...Object.keys(ratios), ...gaveUp]);
      Object.assign(ratios, run.ratios);
      Object.assign(sizes, run.sizes);
      if (run.gaveUp) gaveUp.push(run.gaveUp);
    }
    for (const [name, bytes] of Object.entries(sizes)) expect(bytes, name).toBeGreaterThan(SIZE * 0.9);
    const slow = [
      ...gaveUp.map((name) => `${name}: still running after ${GIVE_UP_RATIO}x`),
      ...Object.entries(ratios)
        .filter(([, ratio]) => ratio > MAX_RATIO)
        .map(([name, ratio]) => `${name}: ${ratio.toFixed(1)}x`),
    ];
    expect(slow).toEqual([]);
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
