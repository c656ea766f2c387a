import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  Nix,
  nixErrorExcerpt,
  parseBuildJson,
  parseNixVersion,
  parsePathInfoJson,
} from "../../src/engine/nix.js";

const sample = (name: string) => readFileSync(join(import.meta.dirname, "..", "samples", name), "utf8");
const SYSTEM = "/nix/store/7w8jkm85w2islkzhyka84wa2s7kl5kgx-nixos-system-p620";
const FIREFOX = "/nix/store/xpnk78pgc1s07pq1qm9hhn12l7iwk9rr-firefox-120.0";

describe("nix version detection", () => {
  it("reads Nix 2.8 (Debian): no --print-out-paths, path-info as an array", () => {
    const v = parseNixVersion(sample("nix-2.8/version.txt"));
    expect(v).toMatchObject({
      implementation: "nix",
      version: "2.8.0",
      hasPrintOutPaths: false,
      pathInfoIsObject: false,
      flakeUpdateTakesInputs: false,
      hasCaretOutputs: false,
    });
  });

  it("reads Nix 2.24: --print-out-paths, path-info as an object", () => {
    const v = parseNixVersion(sample("nix-2.24/version.txt"));
    expect(v).toMatchObject({
      implementation: "nix",
      version: "2.24.10",
      hasPrintOutPaths: true,
      pathInfoIsObject: true,
      flakeUpdateTakesInputs: true,
      hasCaretOutputs: true,
    });
  });

  it("reads Lix, which kept the array", () => {
    const v = parseNixVersion(sample("lix-2.91/version.txt"));
    expect(v).toMatchObject({
      implementation: "lix",
      version: "2.91.1",
      hasPrintOutPaths: true,
      pathInfoIsObject: false,
      flakeUpdateTakesInputs: false,
      hasCaretOutputs: true,
    });
  });

  it("rejects text that is no Nix version with a remedy", () => {
    expect(() => parseNixVersion("bash: nix: command not found")).toThrow(/cannot read the Nix version/);
  });
});

describe("nix output parsing", () => {
  it("parses nix build --json of 2.8 and of 2.24 alike", () => {
    for (const version of ["nix-2.8", "nix-2.24"]) {
      const [result] = parseBuildJson(sample(`${version}/build.json`));
      expect(result?.outputs.out).toBe(SYSTEM);
      expect(result?.drvPath).toMatch(/\.drv$/);
    }
  });

  it("parses path-info in the array form (2.8, Lix) and the object form (2.19+) to the same facts", () => {
    const old = parsePathInfoJson(sample("nix-2.8/path-info.json"));
    const current = parsePathInfoJson(sample("nix-2.24/path-info.json"));
    for (const infos of [old, current]) {
      const system = infos.find((i) => i.path === SYSTEM);
      expect(system).toMatchObject({ valid: true, narSize: 512, closureSize: 1024, references: [FIREFOX] });
    }
    expect(current.find((i) => i.path.endsWith("-missing"))?.valid).toBe(false);
    const lix = parsePathInfoJson(sample("lix-2.91/path-info.json"));
    expect(lix.find((i) => i.path.endsWith("-missing"))?.valid).toBe(false);
  });

  it("keeps the error part of a failure and drops the dirty-tree noise", () => {
    const stderr =
      "warning: Git tree '/x' is dirty\nbuilding...\nerror: builder for '/nix/store/a.drv' failed with exit code 1;\n       last 1 log lines:\n       > boom";
    expect(nixErrorExcerpt(stderr)).toBe(
      "error: builder for '/nix/store/a.drv' failed with exit code 1;\n       last 1 log lines:\n       > boom",
    );
  });
});

const hasNix = spawnSync("nix", ["--version"]).status === 0;
describe.skipIf(!hasNix)("the installed nix", () => {
  it("is detected, builds, and its path-info parses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nix-deploy-nix-"));
    const system = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";
    writeFileSync(
      join(dir, "flake.nix"),
      `{ outputs = { self }: { packages.${system}.default = derivation { name = "nix-deploy-probe-${process.pid}"; system = "${system}"; builder = "/bin/sh"; args = [ "-c" "echo hi > $out" ]; }; }; }`,
    );
    // No sandbox: the probe's builder is /bin/sh, which a build sandbox does not have.
    const nix = new Nix({ options: { substituters: "", sandbox: "false" } });
    const version = await nix.version();
    expect(version.major).toBe(2);
    const [built] = await nix.build([`path:${dir}#packages.${system}.default`]);
    const out = built?.outputs.out as string;
    expect(out).toMatch(new RegExp(`^/nix/store/[a-z0-9]{32}-nix-deploy-probe-${process.pid}$`));
    const [info] = await nix.pathInfo([out], { closureSize: true });
    expect(info).toMatchObject({ path: out, valid: true, references: [] });
    expect(info?.narSize).toBeGreaterThan(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
