import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_FILE_BYTES } from "../../src/engine/analysis/files.js";
import { scanAntipatterns, validateSyntax } from "../../src/engine/analysis/scan.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";

let dir: string;
let engine: Engine;
const write = (file: string, content: string | Buffer) => {
  mkdirSync(join(dir, file, ".."), { recursive: true });
  writeFileSync(join(dir, file), content);
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nix-deploy-scan-"));
  engine = createEngine({ flake: dir, logFile: false });
});
afterEach(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("scanning a flake directory", () => {
  it("walks a directory that is not a git repository, skipping huge and binary files with a note", async () => {
    write("flake.nix", "{ outputs = { self }: { }; }");
    write("big.nix", `[ ${"1 ".repeat(MAX_FILE_BYTES / 2 + 10)}]`);
    write("bin.nix", Buffer.from([0, 1, 2]));
    write("sub/bad.nix", "let in");
    const out = await validateSyntax(engine, {});
    expect(out.filesChecked).toBe(2);
    expect(out.skipped.map((s) => s.file).sort()).toEqual(["big.nix", "bin.nix"]);
    expect(out.skipped.find((s) => s.file === "big.nix")?.reason).toMatch(/^larger than 1024 KiB/);
    expect(out.errors).toMatchObject([
      { file: "sub/bad.nix", line: 1, column: 7, message: "unexpected end of file" },
    ]);
  });

  it("reads disabled rules and ignored paths from nix-deploy-scan.json", async () => {
    write("flake.nix", "{ outputs = { self }: { }; }");
    write("a.nix", "x: x == true");
    write("vendor/b.nix", "x: x == true");
    write("hardware-configuration.nix", "x: x == true");
    expect((await scanAntipatterns(engine, {})).byCode).toEqual({ "bool-comparison": 3 });
    write("nix-deploy-scan.json", JSON.stringify({ ignore: ["vendor/**", "hardware-configuration.nix"] }));
    expect((await scanAntipatterns(engine, {})).findings.map((f) => f.file)).toEqual(["a.nix"]);
    write("nix-deploy-scan.json", JSON.stringify({ disable: ["bool-comparison"] }));
    expect((await scanAntipatterns(engine, {})).byCode).toEqual({});
    write("nix-deploy-scan.json", JSON.stringify({ disabled: ["x"] }));
    await expect(scanAntipatterns(engine, {})).rejects.toThrow(/nix-deploy-scan\.json: .*disabled/);
  });

  it("limits a git flake to changed files, untracked ones included", async () => {
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t.invalid", ...args], { cwd: dir });
    git("init", "-q");
    write("flake.nix", "{ outputs = { self }: { }; }");
    write("old.nix", "x: x == true");
    git("add", "-A");
    git("commit", "-qm", "one");
    write("new.nix", "x: x == false");
    const changed = await scanAntipatterns(engine, { changed: true });
    expect(changed.findings.map((f) => f.file)).toEqual(["new.nix"]);
    expect((await scanAntipatterns(engine, {})).filesScanned).toBe(3);
    await expect(scanAntipatterns(engine, { since: "nope" })).rejects.toThrow(
      /cannot compare with git ref nope/,
    );
  });

  it("parses nesting deeper than the main thread's stack on a thread with a larger one, as Nix does", async () => {
    write("flake.nix", "{ outputs = { self }: { }; }");
    // 3,000 levels: beyond the main thread's stack, within what nix-instantiate --parse accepts.
    write("deep.nix", `x: ${"(".repeat(3000)}x == true${")".repeat(3000)}`);
    write("deep-broken.nix", `${"[".repeat(3000)}${"]".repeat(2999)}`);
    const out = await validateSyntax(engine, {});
    expect(out.errors).toMatchObject([
      { file: "deep-broken.nix", message: "unexpected end of file, expecting ']'" },
    ]);
    const scan = await scanAntipatterns(engine, {});
    expect(scan.findings.filter((f) => f.file === "deep.nix").map((f) => f.code)).toContain(
      "bool-comparison",
    );
  });
});
