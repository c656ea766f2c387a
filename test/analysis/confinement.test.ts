/**
 * Nothing outside the flake is read or written, through links or otherwise, and the backups that
 * `fix: true` keeps are as private as the rest of the state. The attack: a flake (a pull request, a
 * cloned repository) that tracks `env.nix` as a link to `../.env` made validate_syntax print the
 * token line from it, and scan_antipatterns with `fix: true` rewrote a file outside through a link.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { securityAudit } from "../../src/engine/analysis/audit.js";
import { scanAntipatterns, validateSyntax } from "../../src/engine/analysis/scan.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";

const TOKEN = "ghp_0123456789abcdefSECRETtoken";
const FIXABLE = "x: x == true\n";

let base: string;
let flake: string;
let outside: string;
let engine: Engine;
const savedState = process.env.XDG_STATE_HOME;

const git = (...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t.invalid", ...args], { cwd: flake });

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "nix-deploy-confined-"));
  flake = join(base, "flake");
  outside = join(base, "home");
  mkdirSync(flake);
  mkdirSync(outside);
  // Backups go to the state directory; a private one per test.
  process.env.XDG_STATE_HOME = join(base, "state");
  writeFileSync(join(outside, ".env"), `API_TOKEN=${TOKEN}\n`);
  writeFileSync(join(outside, "victim.nix"), FIXABLE);
  writeFileSync(join(flake, "flake.nix"), "{ outputs = { self }: { }; }\n");
  writeFileSync(join(flake, "real.nix"), FIXABLE);
  symlinkSync("../home/.env", join(flake, "env.nix"));
  symlinkSync(join(outside, "victim.nix"), join(flake, "victim.nix"));
  // A link that stays inside the flake is read like any file.
  symlinkSync("real.nix", join(flake, "alias.nix"));
  git("init", "-q");
  git("add", "-A");
  git("commit", "-qm", "a flake with links");
  engine = createEngine({ flake, logFile: false });
});

afterEach(async () => {
  await engine.close();
  if (savedState === undefined) delete process.env.XDG_STATE_HOME;
  else process.env.XDG_STATE_HOME = savedState;
  rmSync(base, { recursive: true, force: true });
});

const leavesFlake = {
  reason: "a symbolic link that leads outside the flake; nothing outside the flake is read",
};

describe("links out of the flake", () => {
  it("are skipped with a note by validate_syntax, and nothing of what they point at is shown", async () => {
    const out = await validateSyntax(engine, {});
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.skipped).toEqual([
      { file: "env.nix", ...leavesFlake },
      { file: "victim.nix", ...leavesFlake },
    ]);
    // flake.nix, real.nix and the link to it that stays inside.
    expect(out.filesChecked).toBe(3);
  });

  it("are skipped by security_audit's source layer, with the same note", async () => {
    const out = await securityAudit(engine, { evaluate: false });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.source.skipped.map((s) => s.file)).toEqual(["env.nix", "victim.nix"]);
  });

  it("are never written through by fix: true; files inside are fixed in place, a link inside stays a link", async () => {
    const out = await scanAntipatterns(engine, { fix: true });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(readFileSync(join(outside, "victim.nix"), "utf8")).toBe(FIXABLE);
    expect(readFileSync(join(outside, ".env"), "utf8")).toBe(`API_TOKEN=${TOKEN}\n`);
    expect(out.fixed?.map((f) => f.file)).toEqual(["alias.nix"]);
    expect(readFileSync(join(flake, "real.nix"), "utf8")).toBe("x: x\n");
    expect(lstatSync(join(flake, "alias.nix")).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(flake, "victim.nix")).isSymbolicLink()).toBe(true);
  });

  it("make nix-deploy-scan.json an error, not a file read from outside", async () => {
    symlinkSync("../home/.env", join(flake, "nix-deploy-scan.json"));
    const scan = validateSyntax(engine, {});
    await expect(scan).rejects.toThrow(
      "nix-deploy-scan.json is not read: it is a symbolic link that leads outside the flake",
    );
    await expect(scan).rejects.not.toThrow(TOKEN);
  });

  it("are skipped when a directory of the flake became a link out of it", async () => {
    mkdirSync(join(flake, "hosts"));
    writeFileSync(join(flake, "hosts", "p620.nix"), "{ }\n");
    git("add", "-A");
    git("commit", "-qm", "a host");
    // git still names hosts/p620.nix among the changes; the path now leads to home/p620.nix.
    writeFileSync(join(outside, "p620.nix"), `API_TOKEN=${TOKEN}\n`);
    rmSync(join(flake, "hosts"), { recursive: true });
    symlinkSync("../home", join(flake, "hosts"));
    const out = await validateSyntax(engine, { changed: true });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.skipped).toEqual([{ file: "hosts/p620.nix", ...leavesFlake }]);
  });

  it("are skipped in a flake that is not a git repository too", async () => {
    rmSync(join(flake, ".git"), { recursive: true });
    const out = await validateSyntax(engine, {});
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.skipped.map((s) => s.file)).toEqual(["env.nix", "victim.nix"]);
  });
});

describe("fix backups", () => {
  it("are 0700 directories and 0600 files, like the rest of the state", async () => {
    rmSync(join(flake, "victim.nix"));
    mkdirSync(join(flake, "hosts"));
    writeFileSync(join(flake, "hosts", "p620.nix"), FIXABLE);
    chmodSync(join(flake, "hosts", "p620.nix"), 0o640);
    const out = await scanAntipatterns(engine, { fix: true });
    expect(out.fixed?.map((f) => f.file).sort()).toEqual(["alias.nix", "hosts/p620.nix"]);
    const backups = join(base, "state", "nix-deploy", "backups");
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(backups)).toBe(0o700);
    const scanDir = join(backups, readdirSync(backups)[0] as string);
    expect(mode(scanDir)).toBe(0o700);
    expect(mode(join(scanDir, "files", "hosts"))).toBe(0o700);
    expect(mode(join(scanDir, "manifest.json"))).toBe(0o600);
    for (const fixed of out.fixed ?? []) {
      expect(fixed.backup.startsWith(`${scanDir}/`)).toBe(true);
      expect(mode(fixed.backup)).toBe(0o600);
      expect(readFileSync(fixed.backup, "utf8")).toBe(FIXABLE);
    }
    // The fixed file keeps its own mode: only the backup is private.
    expect(mode(join(flake, "hosts", "p620.nix"))).toBe(0o640);
  });
});
