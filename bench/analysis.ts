/**
 * Scan throughput, printed as ratios taken in one run (no timed asserts anywhere).
 *
 * Corpus: 2,000 generated NixOS-module-like files of about 10.5 KiB each (21 MB), written to a
 * temporary directory. Measured: validate_syntax's engine call (parse + variable resolution) and
 * scan_antipatterns's (the same plus every rule), in MB/s. Baseline: the seed's method, one
 * `nix-instantiate --parse FILE` process per file; it takes minutes for the whole corpus, so it is
 * timed on an evenly spread sample (BENCH_NIX_SAMPLE files, default 100) and extrapolated to all
 * files — the ratio printed says so.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

// The built engine (npm run bench builds first): what ships, not tsx's on-the-fly transpilation.
const dist = (path: string) => new URL(`../dist/${path}`, import.meta.url).href;
const { scanAntipatterns, validateSyntax } = (await import(
  dist("engine/analysis/scan.js")
)) as typeof import("../src/engine/analysis/scan.js");
const { createEngine } = (await import(dist("engine/engine.js"))) as typeof import("../src/engine/engine.js");

const FILES = Number(process.env.BENCH_FILES ?? 2000);
const TARGET_BYTES = Number(process.env.BENCH_FILE_BYTES ?? 10_500);
const NIX_SAMPLE = Number(process.env.BENCH_NIX_SAMPLE ?? 100);

function block(file: number, i: number): string {
  const n = file * 100 + i;
  return `
  # service ${n}: a block in the shape of a NixOS module
  services.svc${i} = {
    enable = true;
    description = "service ${n} for \${config.networking.hostName}";
    ports = [ ${n % 65000} ${(n + 1) % 65000} 8080 ];
    script = ''
      echo "starting ${n}" ''\${HOME} '''quoted'''
      exec \${pkgs.hello}/bin/hello --id=\${toString cfg.level}
    '';
    settings = lib.mkIf (cfg.enable && cfg.level > ${n % 7}) {
      path = ./data/file${n}.txt;
      url = "https://example.org/${n}";
      values = map (x: x * 2 + ${n % 13}) [ 1 2 3 ];
      merged = { a = 1; } // { b = "x\${toString ${n}}"; };
      nested.deep.attr = if cfg.level == ${n % 3} then null else [ "a" "b" ];
    };
  };
`;
}

function generate(dir: string): number {
  let total = 0;
  for (let f = 0; f < FILES; f++) {
    let body = "";
    for (let i = 0; body.length < TARGET_BYTES - 200; i++) body += block(f, i);
    const text = `{ config, lib, pkgs, ... }:\nlet\n  cfg = config.services.bench;\nin\n{${body}}\n`;
    writeFileSync(join(dir, `m${String(f).padStart(4, "0")}.nix`), text);
    total += Buffer.byteLength(text);
  }
  return total;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-bench-corpus-"));
  const engine = createEngine({ flake: dir, logFile: false });
  try {
    const bytes = generate(dir);
    const mb = bytes / 1e6;

    // CPU seconds beside wall-clock ones: on a shared machine the wall clock carries other load.
    const cpuSeconds = (since: NodeJS.CpuUsage) => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1e6;
    };
    let started = performance.now();
    let cpu = process.cpuUsage();
    const validated = await validateSyntax(engine, {});
    const validateSeconds = (performance.now() - started) / 1000;
    const validateCpu = cpuSeconds(cpu);
    if (validated.errorCount > 0) throw new Error(`the corpus must parse: ${validated.summary}`);

    started = performance.now();
    cpu = process.cpuUsage();
    const scanned = await scanAntipatterns(engine, {});
    const scanSeconds = (performance.now() - started) / 1000;
    const scanCpu = cpuSeconds(cpu);

    const lines = [
      `static analysis on ${FILES} files, ${mb.toFixed(1)} MB (generated)`,
      `  validate_syntax:    ${validateSeconds.toFixed(2)} s (${validateCpu.toFixed(2)} s CPU), ${(mb / validateSeconds).toFixed(1)} MB/s`,
      `  scan_antipatterns:  ${scanSeconds.toFixed(2)} s (${scanCpu.toFixed(2)} s CPU), ${(mb / scanSeconds).toFixed(1)} MB/s (${scanned.counts.warn + scanned.counts.block} findings)`,
    ];

    const nix = spawnSync("nix-instantiate", ["--version"], { stdio: "ignore" });
    if (nix.error) lines.push("  nix-instantiate not installed: no baseline ratio");
    else {
      const sample = Math.min(NIX_SAMPLE, FILES);
      const step = FILES / sample;
      started = performance.now();
      for (let k = 0; k < sample; k++) {
        const file = join(dir, `m${String(Math.floor(k * step)).padStart(4, "0")}.nix`);
        const result = spawnSync("nix-instantiate", ["--parse", file], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        if (result.status !== 0) throw new Error(`nix-instantiate rejects ${file}: ${result.stderr}`);
      }
      const perFile = (performance.now() - started) / 1000 / sample;
      const loopSeconds = perFile * FILES;
      lines.push(
        `  nix-instantiate --parse per file: ${(perFile * 1000).toFixed(1)} ms/file on ${sample} files, ` +
          `extrapolated to ${FILES}: ${loopSeconds.toFixed(1)} s`,
        `  ratio loop/validate_syntax:    ${(loopSeconds / validateSeconds).toFixed(1)}x`,
        `  ratio loop/scan_antipatterns:  ${(loopSeconds / scanSeconds).toFixed(1)}x`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
