/** host-status.sh run locally, with stand-ins for nix-env, systemctl and nix, read by parseStatusOutput. */
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseStatusOutput } from "../../src/engine/fleet/status.js";
import { sandboxPerTest } from "./run.js";

describe("host-status.sh", () => {
  const box = sandboxPerTest();

  it("reports generations with their paths, failed units, the system state and Nix's version", () => {
    const profile = join(box.dir, "system profile");
    symlinkSync("/nix/store/aaa-nixos-system", `${profile}-1-link`);
    symlinkSync("/nix/store/bbb-nixos-system", `${profile}-2-link`);
    box.stub(
      "nix-env",
      `[ "$1 $2 $3" = "-p ${profile} --list-generations" ] || exit 1
echo "   1   2026-01-01 10:00:00   "
echo "   2   2026-01-02 11:00:00   (current)"`,
    );
    box.stub(
      "systemctl",
      `case "$1" in
  --failed) echo "● nginx.service loaded failed failed The web server" ;;
  is-system-running) echo degraded; exit 1 ;;
esac`,
    );
    box.stub("nix", 'echo "nix (Nix) 2.24.9"');
    const result = box.run("host-status", "nix-deploy-status", [profile]);
    expect(result.status).toBe(0);
    const status = parseStatusOutput(result, profile);
    expect(status.generations).toEqual([
      { number: 1, date: "2026-01-01 10:00:00", current: false, path: "/nix/store/aaa-nixos-system" },
      { number: 2, date: "2026-01-02 11:00:00", current: true, path: "/nix/store/bbb-nixos-system" },
    ]);
    expect(status.failedUnits).toEqual([
      {
        unit: "nginx.service",
        load: "loaded",
        active: "failed",
        sub: "failed",
        description: "The web server",
      },
    ]);
    expect(status.systemState).toBe("degraded");
    expect(status.nixVersion).toBe("nix (Nix) 2.24.9");
  });

  it("lists the generations from the profile's links when nix-env may not lock the profile", () => {
    const profile = join(box.dir, "system");
    symlinkSync("/nix/store/aaa-nixos-system", `${profile}-1-link`);
    symlinkSync("/nix/store/bbb-nixos-system", `${profile}-2-link`);
    symlinkSync("system-2-link", profile);
    // A login user other than root: nix-env cannot take the profile's lock.
    box.stub("nix-env", 'echo "error: opening lock file: Permission denied" >&2; exit 1');
    const result = box.run("host-status", "nix-deploy-status", [profile]);
    expect(result.status).toBe(0);
    const status = parseStatusOutput(result, profile);
    expect(status.generations.map(({ number, current, path }) => ({ number, current, path }))).toEqual([
      { number: 1, current: false, path: "/nix/store/aaa-nixos-system" },
      { number: 2, current: true, path: "/nix/store/bbb-nixos-system" },
    ]);
    for (const generation of status.generations)
      expect(generation.date).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it("commands that fail leave their sections empty; the script still succeeds", () => {
    for (const command of ["nix-env", "systemctl", "nix"]) box.stub(command, "exit 1");
    const result = box.run("host-status", "nix-deploy-status", [join(box.dir, "none")]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("@@generations\n@@links\n@@failed\n@@state\n@@nix\n");
    expect(parseStatusOutput(result, join(box.dir, "none"))).toMatchObject({
      generations: [],
      failedUnits: [],
      systemState: undefined,
      nixVersion: undefined,
    });
  });
});
