import { describe, expect, it } from "vitest";
import {
  diffDerivationNames,
  formatBytes,
  movedInputs,
  splitDrvName,
} from "../../src/engine/updates/preview.js";

const drv = (name: string) => `/nix/store/${"a".repeat(32)}-${name}.drv`;

const lock = (rev: string, lastModified: number) =>
  JSON.stringify({
    nodes: {
      nixpkgs: { locked: { type: "git", rev, narHash: `sha256-${rev}`, lastModified } },
      flake_utils: { locked: { type: "github", rev: "u1", narHash: "sha256-u", lastModified: 1 } },
      root: { inputs: { nixpkgs: "nixpkgs", utils: "flake_utils", follows: ["nixpkgs"] } },
    },
    root: "root",
    version: 7,
  });

describe("the update preview's pure parts", () => {
  it("splits derivation names as Nix does", () => {
    expect(splitDrvName("firefox-121.0")).toEqual({ pname: "firefox", version: "121.0" });
    expect(splitDrvName("nixos-system-p620-fixture")).toEqual({
      pname: "nixos-system-p620-fixture",
      version: "",
    });
    expect(splitDrvName("python3.12-requests-2.31.0")).toEqual({
      pname: "python3.12-requests",
      version: "2.31.0",
    });
  });

  it("compares derivation closures by name and version", () => {
    const before = [drv("firefox-120.0"), drv("htop-3.2.2"), drv("old-tool-1.0"), "/nix/store/x-source"];
    const after = [drv("firefox-121.0"), drv("htop-3.2.2"), drv("new-tool-2.0")];
    expect(diffDerivationNames(before, after)).toEqual([
      { name: "firefox", oldVersions: ["120.0"], newVersions: ["121.0"], kind: "upgraded" },
      { name: "new-tool", oldVersions: [], newVersions: ["2.0"], kind: "added" },
      { name: "old-tool", oldVersions: ["1.0"], newVersions: [], kind: "removed" },
    ]);
  });

  it("names only the inputs that moved, with both revisions and dates", () => {
    expect(movedInputs(lock("r1", 1_793_491_200), lock("r2", 1_794_000_000))).toEqual([
      {
        input: "nixpkgs",
        oldRev: "r1",
        newRev: "r2",
        oldDate: "2026-11-01T00:00:00.000Z",
        newDate: "2026-11-06T21:20:00.000Z",
      },
    ]);
    expect(movedInputs(lock("r1", 1), lock("r1", 1))).toEqual([]);
  });

  it("shows a size delta as a person reads it", () => {
    expect(formatBytes(0)).toBe("+0 B");
    expect(formatBytes(1536)).toBe("+1.5 KiB");
    expect(formatBytes(-3 * 1024 * 1024)).toBe("-3.0 MiB");
  });
});
