import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain-JavaScript script (it runs before anything is installed), without types
import { installDifferences } from "../../scripts/check-install.mjs";

const ROOT = join(import.meta.dirname, "..", "..");

/** A project with one dependency, `tiny`, installed from a local tarball: npm needs no registry. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-setup-"));
  const tiny = join(dir, "tiny-src");
  mkdirSync(tiny);
  writeFileSync(join(tiny, "package.json"), JSON.stringify({ name: "tiny", version: "1.0.0" }));
  const npm = (args: string[], cwd: string) => {
    const run = spawnSync("npm", [...args, "--no-audit", "--no-fund", "--offline"], {
      cwd,
      encoding: "utf8",
    });
    if (run.status !== 0) throw new Error(`npm ${args.join(" ")}: ${run.stderr}`);
  };
  npm(["pack", "--pack-destination", dir], tiny);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "p", version: "0.0.0", dependencies: { tiny: "file:tiny-1.0.0.tgz" } }),
  );
  npm(["install", "--package-lock-only"], dir);
  mkdirSync(join(dir, "scripts"));
  for (const script of ["setup.sh", "check-install.mjs"])
    cpSync(join(ROOT, "scripts", script), join(dir, "scripts", script));
  return dir;
}

describe("check-install: does node_modules match package-lock.json", () => {
  let dir: string;
  beforeAll(() => {
    dir = project();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names what is missing or at another version; optional packages of other platforms are no difference", () => {
    expect(installDifferences(dir)).toEqual(["node_modules/tiny is not installed (locked: 1.0.0)"]);
    mkdirSync(join(dir, "node_modules", "tiny"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "tiny", "package.json"), '{"name":"tiny","version":"0.9.0"}');
    expect(installDifferences(dir)).toEqual(["node_modules/tiny is 0.9.0, package-lock.json says 1.0.0"]);
    writeFileSync(join(dir, "node_modules", "tiny", "package.json"), '{"name":"tiny","version":"1.0.0"}');
    expect(installDifferences(dir)).toEqual([]);
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
    lock.packages["node_modules/other-platform-binary"] = { version: "1.0.0", optional: true };
    writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock));
    expect(installDifferences(dir)).toEqual([]);
  });
});

/**
 * setup.sh itself, on a machine that has what it installs with apt (else it would install them
 * here): the npm step runs npm ci only when node_modules differs from the lock.
 */
const hasAll = ["nix", "ssh", "git", "unshare", "shellcheck", "sudo", "openssl"].every(
  (program) => spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0,
);
const aptWouldRun =
  !hasAll ||
  spawnSync("test", ["-x", "/usr/sbin/sshd"]).status !== 0 ||
  (process.getuid?.() === 0 && spawnSync("getent", ["group", "nixbld"], { stdio: "ignore" }).status !== 0);
if (aptWouldRun) console.warn("skipping the setup.sh test: setup.sh would install system packages here");

describe.skipIf(aptWouldRun)("scripts/setup.sh", () => {
  it("runs npm ci when node_modules differs from the lock, and skips it when it matches", () => {
    const dir = project();
    try {
      const setup = () => spawnSync("bash", [join(dir, "scripts", "setup.sh")], { encoding: "utf8" });
      const first = setup();
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toContain("setup: installing the npm packages of package-lock.json (npm ci)");
      expect(
        JSON.parse(readFileSync(join(dir, "node_modules", "tiny", "package.json"), "utf8")),
      ).toMatchObject({
        version: "1.0.0",
      });
      // A file npm ci would delete: it survives a run that skips npm ci.
      writeFileSync(join(dir, "node_modules", "keep"), "");
      const second = setup();
      expect(second.status, second.stderr).toBe(0);
      expect(second.stderr).toContain("setup: node_modules matches package-lock.json; npm ci skipped");
      expect(readFileSync(join(dir, "node_modules", "keep"), "utf8")).toBe("");
      writeFileSync(join(dir, "node_modules", "tiny", "package.json"), '{"name":"tiny","version":"0.9.0"}');
      const third = setup();
      expect(third.stderr).toContain("node_modules/tiny is 0.9.0, package-lock.json says 1.0.0");
      expect(third.stderr).toContain("(npm ci)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
