import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chunksOf,
  evalChunkSize,
  HostEvaluation,
  hostsApply,
  nixString,
  SYSTEM_DERIVATION,
} from "../../src/engine/deploy/evaluation.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { testEnv } from "../fleet/harness.js";

const GIB = 1024 ** 3;

describe("evaluation chunks", () => {
  it("sizes chunks as colmena does: (free - 1 GiB) / 512 MiB hosts, at least one", () => {
    expect(evalChunkSize(8 * GIB)).toBe(14);
    expect(evalChunkSize(1.5 * GIB)).toBe(1);
    expect(evalChunkSize(0.5 * GIB)).toBe(1);
    expect(evalChunkSize(8 * GIB, 3)).toBe(3);
  });

  it("refuses an evalChunk that is not a whole number of hosts", () => {
    expect(() => evalChunkSize(8 * GIB, 0)).toThrow(/evalChunk must be a whole number of hosts, at least 1/);
    expect(() => evalChunkSize(8 * GIB, 1.5)).toThrow(/got 1.5/);
  });

  it("cuts hosts into consecutive chunks", () => {
    expect(chunksOf(["a", "b", "c", "d", "e"], 2)).toEqual([["a", "b"], ["c", "d"], ["e"]]);
    expect(chunksOf([], 4)).toEqual([]);
  });

  it("carries host names into Nix as data, never as code", () => {
    expect(nixString('a"b\\c${d}\n')).toBe('"a\\"b\\\\c\\${d}\\n"');
    expect(hostsApply(["p620", "x${builtins.abort 1}"], SYSTEM_DERIVATION)).toContain(
      'builtins.fromJSON "[\\"p620\\",\\"x\\${builtins.abort 1}\\"]"',
    );
  });
});

const hasNix = spawnSync("nix", ["--version"]).status === 0;

/**
 * Hosts that build with /bin/sh: `ok*` build, `badeval` throws while evaluating, `badbuild`
 * evaluates but its builder fails, and one name holds Nix syntax, which must stay a name.
 */
function writeFlake(dir: string): void {
  const system = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";
  writeFileSync(
    join(dir, "flake.nix"),
    `{
  outputs = { self }:
    let
      host = name: script: {
        config.system.build.toplevel = derivation {
          name = "nixos-system-eval-test";
          system = "${system}";
          builder = "/bin/sh";
          args = [ "-c" script ];
          marker = "\${name}-${process.pid}";
        };
      };
    in {
      nixosConfigurations = {
        ok1 = host "ok1" "echo 1 > $out";
        ok2 = host "ok2" "echo 2 > $out";
        ok3 = host "ok3" "echo 3 > $out";
        "odd\\\${x}" = host "odd" "echo odd > $out";
        badeval = throw "badeval cannot be evaluated";
        badbuild = host "badbuild" "echo broken >&2; exit 3";
      };
    };
}
`,
  );
}

/** The failing hosts' results: each names the step that failed, with Nix's words. */
function expectOwnErrors(badeval?: PromiseSettledResult<string>, badbuild?: PromiseSettledResult<string>) {
  expect(badeval).toMatchObject({
    status: "rejected",
    reason: {
      message: expect.stringMatching(/evaluating badeval failed:[\s\S]*badeval cannot be evaluated/),
    },
  });
  expect(badbuild).toMatchObject({
    status: "rejected",
    reason: { message: expect.stringMatching(/building badbuild failed:[\s\S]*broken/) },
  });
}

describe.skipIf(!hasNix)("evaluating many hosts together with the installed nix", () => {
  let dir: string;
  let engine: Engine;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nix-deploy-eval-"));
    writeFlake(dir);
    engine = createEngine({
      flake: dir,
      env: { ...process.env, ...testEnv(dir), LOG_LEVEL: "warn" },
      logFile: false,
    });
  });
  afterAll(() => {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("evaluates a chunk of hosts in one evaluator process and builds each from its derivation", async () => {
    const hosts = ["ok1", "ok2", "ok3", "odd${x}"];
    const evaluation = new HostEvaluation(engine, `path:${dir}`, hosts, { chunk: 4 });
    const built = await Promise.all(hosts.map((host) => evaluation.build(host)));
    expect(evaluation.evaluatorProcesses).toBe(1);
    const derivations = await Promise.all(hosts.map((host) => evaluation.derivation(host)));
    expect(evaluation.evaluatorProcesses).toBe(1);
    for (const drv of derivations)
      expect(drv).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-eval-test\.drv$/);
    expect(new Set(built).size).toBe(4);
    for (const out of built) expect(out).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-eval-test$/);
  });

  it("starts ceil(hosts / chunk) evaluator processes", async () => {
    const hosts = ["ok1", "ok2", "ok3"];
    const evaluation = new HostEvaluation(engine, `path:${dir}`, hosts, { chunk: 2 });
    await Promise.all(hosts.map((host) => evaluation.derivation(host)));
    expect(evaluation.evaluatorProcesses).toBe(2);
  });

  it("gives each host its own error when one host of a chunk fails, and the others their systems", async () => {
    const hosts = ["ok1", "badeval", "badbuild", "ok2"];
    const evaluation = new HostEvaluation(engine, `path:${dir}`, hosts, { chunk: 4 });
    const results = await Promise.allSettled(hosts.map((host) => evaluation.build(host)));
    const [ok1, badeval, badbuild, ok2] = results;
    expect(ok1).toMatchObject({ status: "fulfilled" });
    expect(ok2).toMatchObject({ status: "fulfilled" });
    expectOwnErrors(badeval, badbuild);
  });

  it("chunks of one: one nix build per host evaluates and builds it, and errors still say which step failed", async () => {
    const hosts = ["ok1", "badeval", "badbuild"];
    const evaluation = new HostEvaluation(engine, `path:${dir}`, hosts, { chunk: 1 });
    const [ok1, badeval, badbuild] = await Promise.allSettled(hosts.map((host) => evaluation.build(host)));
    expect(ok1).toMatchObject({
      status: "fulfilled",
      value: expect.stringMatching(/-nixos-system-eval-test$/),
    });
    // The derivation came with the build: no evaluation of its own.
    expect(await evaluation.derivation("ok1")).toMatch(/-nixos-system-eval-test\.drv$/);
    expectOwnErrors(badeval, badbuild);
    // One process for the host that built; the failed ones were redone in two steps to tell why.
    expect(evaluation.evaluatorProcesses).toBe(5);
  });

  it("answers every named attribute of every host from the same evaluator process", async () => {
    const evaluation = new HostEvaluation(engine, `path:${dir}`, ["ok1", "ok2"], {
      attributes: { ...SYSTEM_DERIVATION, marker: "c: c.config.system.build.toplevel.marker" },
    });
    const [ok1, ok2] = await Promise.all([evaluation.values("ok1"), evaluation.values("ok2")]);
    expect(ok1).toMatchObject({ marker: `ok1-${process.pid}`, drvPath: expect.stringMatching(/\.drv$/) });
    expect(ok2).toMatchObject({ marker: `ok2-${process.pid}` });
    await evaluation.derivation("ok1");
    expect(evaluation.evaluatorProcesses).toBe(1);
  });

  it("names a host that is not part of the evaluation", async () => {
    const evaluation = new HostEvaluation(engine, `path:${dir}`, ["ok1"]);
    await expect(evaluation.build("ok9")).rejects.toThrow(/ok9 is not among the hosts of this evaluation/);
  });
});
