import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFailedUnits, parseGenerations, parseStatusOutput } from "../../src/engine/fleet/status.js";

const sample = (name: string) =>
  readFileSync(join(import.meta.dirname, "..", "samples", name), "utf8").split("\n");

describe("host status parsing", () => {
  it("reads nix-env --list-generations with the current one marked", () => {
    const generations = parseGenerations(sample("list-generations.txt"));
    expect(generations.map((g) => g.number)).toEqual([1234, 1235, 1236]);
    expect(generations.filter((g) => g.current).map((g) => g.number)).toEqual([1236]);
    expect(generations[0]?.date).toBe("2024-01-02 10:11:12");
  });

  it("reads systemctl --failed, with or without the bullet", () => {
    expect(parseFailedUnits(sample("systemctl-failed.txt"))).toEqual([
      {
        unit: "postgresql.service",
        load: "loaded",
        active: "failed",
        sub: "failed",
        description: "PostgreSQL Server",
      },
      {
        unit: "home-manager-alice.service",
        load: "loaded",
        active: "failed",
        sub: "failed",
        description: "Home Manager environment for alice",
      },
    ]);
  });

  it("joins generation numbers to their store paths from the profile links", () => {
    const stdout = [
      "@@current",
      "/nix/store/bbb-nixos-system",
      "@@generations",
      "   1   2024-01-02 10:11:12   ",
      "   2   2024-01-03 10:11:12   (current)",
      "@@links",
      "/nix/var/nix/profiles/system-1-link /nix/store/aaa-nixos-system",
      "/nix/var/nix/profiles/system-2-link /nix/store/bbb-nixos-system",
      "@@failed",
      "@@state",
      "running",
      "@@nix",
      "nix (Nix) 2.8.0",
    ].join("\n");
    const status = parseStatusOutput({ stdout }, "/nix/var/nix/profiles/system");
    expect(status.generations).toEqual([
      { number: 1, date: "2024-01-02 10:11:12", current: false, path: "/nix/store/aaa-nixos-system" },
      { number: 2, date: "2024-01-03 10:11:12", current: true, path: "/nix/store/bbb-nixos-system" },
    ]);
    expect(status).toMatchObject({
      currentSystem: "/nix/store/bbb-nixos-system",
      systemState: "running",
      failedUnits: [],
      nixVersion: "nix (Nix) 2.8.0",
    });
  });
});
