import { describe, expect, it } from "vitest";
import { classifyIssue } from "../../src/engine/updates/classify.js";
import {
  compareVersions,
  fixedInNewLock,
  type IssueRecord,
  mentionsPackage,
  relateVersions,
  versionsNamed,
} from "../../src/engine/updates/matching.js";
import { issueQueries, matchIssues } from "../../src/engine/updates/nixpkgs-issues.js";

function issue(title: string, extra: Partial<IssueRecord> = {}): IssueRecord {
  return {
    number: 1,
    title,
    url: "https://github.com/NixOS/nixpkgs/issues/1",
    state: "open",
    labels: [],
    createdAt: "2026-11-01T00:00:00Z",
    body: '- system: `"x86_64-linux"`',
    ...extra,
  };
}

describe("whole package names", () => {
  it.each([
    ["linux", "linux 6.12.1: nvidia driver incompatible", true],
    ["linux", "linux-6.12.1 fails to boot", true],
    ["linux", "pkgs.linux: missing module", true],
    ["linux", "linux-firmware: missing iwlwifi firmware", false],
    ["linux", "gnome-shell: extensions disabled", false],
    ["linux", "linuxPackages_latest.zfs broken", false],
    ["linux-firmware", "linux-firmware: missing iwlwifi firmware", true],
    ["firefox", "Firefox crashes on start", true],
    ["firefox", "firefox-esr: crashes on start", false],
    ["firefox-esr", "firefox-esr: crashes on start", true],
    ["systemd", "systemd-boot: entries missing", false],
    ["systemd", "systemd 256.8: fails to boot", true],
    ["openssl", "python312Packages.pyopenssl: tests fail", false],
    // Short or word-like names count only where they name a package: "name:", pkgs.name, name 1.2.
    ["go", "Go back button missing in gnome-control-center", false],
    ["go", "go: 1.23.3 breaks cgo builds", true],
    ["go", "go 1.23.3 breaks cgo builds", true],
    ["go", "cannot go to settings", false],
    ["sudo", "sudo: privilege escalation", true],
    ["sudo", "needs sudo to run nixos-rebuild", false],
    ["jq", "jq: wrong output", true],
    ["jq", "use jq to parse", false],
    ["time", "boot takes a long time", false],
  ])("%s in %j: %s", (name, title, expected) => {
    expect(mentionsPackage(name, title)).toBe(expected);
  });

  it("does not read the body, where every issue names x86_64-linux", () => {
    const inBody = issue("gnome-shell: broken", { body: "linux 6.12.1 on x86_64-linux" });
    expect(matchIssues([inBody], [{ name: "linux", newVersion: "6.12.1" }])).toEqual([]);
  });
});

describe("versions", () => {
  it("reads the versions an issue names for the package", () => {
    expect(versionsNamed("systemd", "systemd 256.8: fails; reverting to systemd 256.7 boots")).toEqual([
      "256.8",
      "256.7",
    ]);
    expect(versionsNamed("linux", "linux-6.6.x and linux v6.12")).toEqual(["6.6.x", "6.12"]);
    expect(versionsNamed("linux", "linux-firmware 20261101")).toEqual([]);
  });

  it("compares like nix's compareVersions for releases", () => {
    expect(compareVersions("256.8", "256.10")).toBe(-1);
    expect(compareVersions("3.3.1", "3.3.1")).toBe(0);
    expect(compareVersions("3.3", "3.3.1")).toBe(-1);
    expect(compareVersions("133.0", "132.0.2")).toBe(1);
    expect(compareVersions("254.x", "254.6")).toBe(0);
  });

  it("relates named versions to the update: new, old, other or unnamed", () => {
    const pkg = { name: "systemd", oldVersion: "256.7", newVersion: "256.8" };
    expect(relateVersions(pkg, ["256.8"])).toBe("new");
    expect(relateVersions(pkg, ["256.x"])).toBe("new");
    expect(relateVersions(pkg, ["256"])).toBe("new");
    expect(relateVersions(pkg, ["256.7"])).toBe("old");
    expect(relateVersions(pkg, ["255.4"])).toBe("other");
    expect(relateVersions(pkg, ["25"])).toBe("other");
    expect(relateVersions(pkg, [])).toBe("unnamed");
  });
});

describe("fixed in the new lock", () => {
  const htop = { name: "htop", oldVersion: "3.3.0", newVersion: "3.3.1" };

  it("when closed before the new lock's date", () => {
    const closed = issue("htop: segfault", { state: "closed", closedAt: "2026-11-10T12:00:00Z" });
    expect(fixedInNewLock(closed, htop, new Date("2026-11-20T00:00:00Z"))).toMatch(/closed 2026-11-10/);
    expect(fixedInNewLock(closed, htop, new Date("2026-11-01T00:00:00Z"))).toBeUndefined();
    // Without the new lock's date a closed issue is not assumed fixed: the fix may not be in it yet.
    expect(fixedInNewLock(closed, htop)).toBeUndefined();
  });

  it("when it says fixed in a version at most the new one", () => {
    const open = issue("htop: segfault", { body: "Fixed in 3.3.1 upstream." });
    expect(fixedInNewLock(open, htop)).toMatch(/fixed in 3\.3\.1/);
    expect(fixedInNewLock(open, { ...htop, newVersion: "3.3.0" })).toBeUndefined();
    expect(fixedInNewLock(issue("htop: segfault", { body: "fixed in 3.4" }), htop)).toBeUndefined();
  });
});

describe("classification", () => {
  it.each([
    ["systemd 256.8: fails to boot with LUKS", [], "critical", /boot failure/],
    ["btrfs-progs: check --repair corrupts filesystem", [], "critical", /data loss/],
    ["openssl: out-of-bounds read", ["0.kind: security"], "critical", /labelled "0.kind: security"/],
    ["sudo: privilege escalation", ["6.topic: security"], "critical", /security/],
    ["mesa: broken", ["1.severity: blocker"], "critical", /blocker/],
    ["mesa 24.2.7 fails to build on nixos-unstable", [], "critical", /build broken on the channel/],
    ["firefox: video freezes", ["0.kind: regression"], "high", /regression/],
    ["htop: segfault when resizing", [], "high", /crash/],
    ["linux 6.12.1: nvidia driver incompatible", [], "high", /hardware/],
    ["foo: fails to build with gcc 14", [], "high", /build failure/],
    ["firefox 133.0: video playback stutters", ["0.kind: bug"], "medium", /no sign/],
  ])("%j %j is %s", (title, labels, severity, why) => {
    const result = classifyIssue({ title, labels });
    expect(result.severity).toBe(severity);
    expect(result.why).toMatch(why);
  });
});

describe("queries", () => {
  it("asks once per label, never two labels in one query, and groups names within GitHub's limits", () => {
    const names = Array.from({ length: 13 }, (_, i) => ({ name: `package-number-${i}` }));
    const queries = issueQueries(names, new Date("2026-11-01T12:00:00Z"));
    const labelled = queries.filter((q) => q.q.includes("label:"));
    expect(labelled.map((q) => /label:"([^"]+)"/.exec(q.q)?.[1])).toEqual([
      "0.kind: regression",
      "0.kind: security",
      "6.topic: security",
      "1.severity: blocker",
    ]);
    for (const q of labelled) expect(q.q.match(/label:/g)).toHaveLength(1);
    const titled = queries.filter((q) => q.q.includes("in:title"));
    expect(titled.length).toBeGreaterThanOrEqual(3);
    for (const q of queries) {
      expect(q.q).toContain("repo:NixOS/nixpkgs is:issue updated:>=2026-11-01");
      expect(q.q.length).toBeLessThanOrEqual(256);
      expect((q.q.match(/ OR /g) ?? []).length).toBeLessThanOrEqual(5);
    }
    const asked = titled.flatMap((q) => [...q.q.matchAll(/"([^"]+)"/g)].map((m) => m[1]));
    expect(asked.sort()).toEqual(names.map((n) => n.name).sort());
  });
});

describe("matching issues to packages", () => {
  it("gives one match per issue and package it names, with the fix noted", () => {
    const issues = [
      issue("linux 6.12.1: nvidia driver incompatible", { number: 10 }),
      issue("linux-firmware: missing iwlwifi firmware", { number: 11 }),
      issue("htop: segfault", { number: 12, body: "Fixed in 3.3.1." }),
    ];
    const matches = matchIssues(issues, [
      { name: "linux", oldVersion: "6.11.9", newVersion: "6.12.1" },
      { name: "htop", oldVersion: "3.3.0", newVersion: "3.3.1" },
    ]);
    expect(matches.map((m) => [m.number, m.package, m.severity])).toEqual([
      [12, "htop", "high"],
      [10, "linux", "high"],
    ]);
    expect(matches[0]?.fixed).toMatch(/fixed in 3\.3\.1/);
    expect(matches[1]?.fixed).toBeUndefined();
    expect(matches[1]?.why).toMatch(/covers the new 6\.12\.1/);
  });
});
