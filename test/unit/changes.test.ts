import { describe, expect, it } from "vitest";
import {
  describePackageChange,
  parseDiffClosures,
  parseUnitChanges,
} from "../../src/engine/deploy/changes.js";

describe("closure diff parsing", () => {
  it("reads upgrades, additions, removals, size-only changes and colours", () => {
    const output = [
      "\x1b[1mfirefox\x1b[0m: \x1b[31;1m120.0\x1b[0m → \x1b[32;1m121.0\x1b[0m, \x1b[31;1m+13.9 KiB\x1b[0m",
      "linux: 6.6.1 → 6.6.3, -1.5 MiB",
      "new-tool: ∅ → 1.2.3, +120.0 KiB",
      "old-tool: 4.5.6 → ∅, -8.0 KiB",
      "glibc: 2.38-27, 2.38-44 → 2.38-44",
      "nixos-system: ε → ε",
      "hello: +9.0 KiB",
      "",
    ].join("\n");
    expect(parseDiffClosures(output)).toEqual([
      { name: "firefox", oldVersions: ["120.0"], newVersions: ["121.0"], sizeDelta: 14234, kind: "upgraded" },
      {
        name: "linux",
        oldVersions: ["6.6.1"],
        newVersions: ["6.6.3"],
        sizeDelta: -1572864,
        kind: "upgraded",
      },
      { name: "new-tool", oldVersions: [], newVersions: ["1.2.3"], sizeDelta: 122880, kind: "added" },
      { name: "old-tool", oldVersions: ["4.5.6"], newVersions: [], sizeDelta: -8192, kind: "removed" },
      {
        name: "glibc",
        oldVersions: ["2.38-27", "2.38-44"],
        newVersions: ["2.38-44"],
        sizeDelta: undefined,
        kind: "upgraded",
      },
      { name: "nixos-system", oldVersions: [""], newVersions: [""], sizeDelta: undefined, kind: "upgraded" },
      { name: "hello", oldVersions: [], newVersions: [], sizeDelta: 9216, kind: "rebuilt" },
    ]);
    expect(parseDiffClosures("")).toEqual([]);
  });

  it("prints a change as a person reads it", () => {
    const [change] = parseDiffClosures("firefox: 120.0 → 121.0");
    expect(change && describePackageChange(change)).toBe("firefox: 120.0 → 121.0");
  });

  it("reads unit actions", () => {
    expect(
      parseUnitChanges(["restart prometheus.service", "start new.service", "stop old.service", "bogus"]),
    ).toEqual([
      { unit: "prometheus.service", action: "restart" },
      { unit: "new.service", action: "start" },
      { unit: "old.service", action: "stop" },
    ]);
  });
});
