/**
 * The ignore globs of nix-deploy-scan.json: .gitignore's meaning, bounds with errors that name the
 * field, matching whose cost does not depend on what a glob holds (a backtracking matcher took 13 s
 * on `**a**a**a**a**a**c`, and six groups never returned), and scans that stop when cancelled.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_IGNORE_GLOBS } from "../../src/engine/analysis/files.js";
import { compileGlob, MAX_GLOB_LENGTH } from "../../src/engine/analysis/glob.js";
import { scanAntipatterns, validateSyntax } from "../../src/engine/analysis/scan.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { quietHooks } from "../../src/engine/hooks.js";
import { HOSTILE_GLOBS } from "./glob-cases.js";
import { slowCases } from "./measure.js";

const matches = (glob: string, paths: string[]) => paths.filter((p) => compileGlob(glob).test(p));

describe("ignore globs", () => {
  it("mean what they mean in .gitignore", () => {
    const paths = [
      "a.nix",
      "x.nix",
      "hosts/a.nix",
      "hosts/a/b.nix",
      "vendor/a/b.nix",
      "vendorx/a.nix",
      "sub/vendor/a.nix",
      "secrets.nix",
      "deep/er/secrets.nix",
      "axnix",
      "hardware-configuration.nix",
      "p620/hardware-configuration.nix",
    ];
    // `*` and `?` stay within a segment; a glob without `/` matches the name at any depth.
    expect(matches("*.nix", paths)).toEqual(paths.filter((p) => p.endsWith(".nix")));
    expect(matches("hosts/*.nix", paths)).toEqual(["hosts/a.nix"]);
    expect(matches("hosts/?.nix", paths)).toEqual(["hosts/a.nix"]);
    expect(matches("?.nix", ["a.nix", "ab.nix", "d/x.nix", "d/.nix"])).toEqual(["a.nix", "d/x.nix"]);
    // `**` crosses segments; `**/` may match none; a glob with `/` is anchored at the root.
    expect(matches("vendor/**", paths)).toEqual(["vendor/a/b.nix"]);
    expect(matches("**/secrets.nix", paths)).toEqual(["secrets.nix", "deep/er/secrets.nix"]);
    expect(matches("**/vendor/**", paths)).toEqual(["vendor/a/b.nix", "sub/vendor/a.nix"]);
    expect(matches("h**.nix", paths)).toEqual([
      "hosts/a.nix",
      "hosts/a/b.nix",
      "hardware-configuration.nix",
      "p620/hardware-configuration.nix",
    ]);
    expect(matches("/hosts/*.nix", paths)).toEqual(["hosts/a.nix"]);
    // A directory's name, with or without `/`, covers what is below it.
    expect(matches("vendor", paths)).toEqual(["vendor/a/b.nix", "sub/vendor/a.nix"]);
    expect(matches("hosts/", paths)).toEqual(["hosts/a.nix", "hosts/a/b.nix"]);
    // A dot is a dot; runs of stars are `**`.
    expect(matches("/a.nix", paths)).toEqual(["a.nix"]);
    expect(matches("a.nix", ["axnix", "a.nix", "b/axnix"])).toEqual(["a.nix"]);
    expect(matches("hardware-configuration.nix", paths)).toEqual([
      "hardware-configuration.nix",
      "p620/hardware-configuration.nix",
    ]);
    expect(matches("***/secrets.nix", paths)).toEqual(["secrets.nix", "deep/er/secrets.nix"]);
    expect(matches("[ab].nix", ["[ab].nix", "a.nix"])).toEqual(["[ab].nix"]);
  });

  it("cost the same whatever they hold: hostile globs against long paths within 10x plain ones", async () => {
    const entry = new URL("./glob-worker.ts", import.meta.url);
    expect(await slowCases(entry, Object.keys(HOSTILE_GLOBS), 10)).toEqual([]);
  }, 600_000);
});

describe("scanning with a configuration and a cancellation", () => {
  let dir: string;
  let engine: Engine;
  const write = (file: string, content: string) => {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), content);
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nix-deploy-globs-"));
    engine = createEngine({ flake: dir, logFile: false });
    write("flake.nix", "{ outputs = { self }: { }; }");
  });
  afterEach(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rejects globs too long, too many or empty, naming the field and what to do", async () => {
    const config = (ignore: string[]) => write("nix-deploy-scan.json", JSON.stringify({ ignore }));
    config(["vendor/**", `${"**a".repeat(100)}c`]);
    await expect(validateSyntax(engine, {})).rejects.toThrow(
      `nix-deploy-scan.json: ignore.1: a glob longer than ${MAX_GLOB_LENGTH} characters; shorten it`,
    );
    config(Array.from({ length: MAX_IGNORE_GLOBS + 1 }, (_, i) => `dir${i}/**`));
    await expect(scanAntipatterns(engine, {})).rejects.toThrow(
      `nix-deploy-scan.json: ignore: more than ${MAX_IGNORE_GLOBS} globs; merge them`,
    );
    config([""]);
    await expect(validateSyntax(engine, {})).rejects.toThrow(
      "nix-deploy-scan.json: ignore.0: an empty glob; remove it",
    );
    config(["vendor/**"]);
    write("vendor/x.nix", "let in");
    expect((await validateSyntax(engine, {})).filesChecked).toBe(1);
  });

  it("stops between files when the request is cancelled", async () => {
    for (let i = 0; i < 20; i++) write(`m${i}.nix`, "{ a = 1; }");
    const cancel = new AbortController();
    const reports: number[] = [];
    const scan = validateSyntax(
      engine,
      {},
      quietHooks({
        signal: cancel.signal,
        progress: (_message, done) => {
          reports.push(done as number);
          cancel.abort();
        },
      }),
    );
    await expect(scan).rejects.toThrow(/aborted/i);
    // Cancelled after the first file: no other file was read, so no other report came.
    expect(reports).toEqual([1]);
  });
});
