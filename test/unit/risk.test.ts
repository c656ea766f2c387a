import { describe, expect, it } from "vitest";
import { assessRisk, type IssueCheckSummary, nextStepFor } from "../../src/engine/updates/risk.js";

const clean: IssueCheckSummary = { status: "ok", matches: [] };
const systemdBoot = {
  number: 361592,
  title: "systemd 256.8: fails to boot with LUKS root on UEFI after update",
  package: "systemd",
  severity: "critical" as const,
};

describe("risk assessment", () => {
  it("proceeds when every check is clean", () => {
    const result = assessRisk({
      issues: clean,
      preview: { changedPackages: 12, hosts: 4 },
      scan: { errors: 0, warnings: 3 },
      build: { ok: true },
    });
    expect(result.verdict).toBe("proceed");
    expect(result.suggestions).toEqual([]);
    expect(nextStepFor(result)).toMatch(/go ahead/);
  });

  it("asks for medium and high issues", () => {
    const result = assessRisk({
      issues: {
        status: "ok",
        matches: [{ number: 1, title: "firefox: stutters", package: "firefox", severity: "medium" }],
      },
    });
    expect(result.verdict).toBe("confirm");
    expect(result.reasons).toEqual(["medium: #1 firefox: stutters (firefox)"]);
  });

  it.each(["degraded", "unavailable"] as const)("never proceeds when the issue check is %s", (status) => {
    const result = assessRisk({
      issues: { status, reason: "GitHub answered 500", matches: [] },
      build: { ok: true },
    });
    expect(result.verdict).toBe("confirm");
    expect(result.reasons[0]).toMatch(new RegExp(`${status}.*GitHub answered 500.*unknown`));
  });

  it("ignores issues already fixed in the new lock", () => {
    const result = assessRisk({
      issues: { status: "ok", matches: [{ ...systemdBoot, fixed: "closed 2026-11-10" }] },
    });
    expect(result.verdict).toBe("proceed");
  });

  it("blocks a critical issue and writes the pin and the hold as Nix", () => {
    const result = assessRisk({
      issues: { status: "ok", matches: [systemdBoot] },
      pin: {
        input: "nixpkgs",
        owner: "NixOS",
        repo: "nixpkgs",
        rev: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
      },
    });
    expect(result.verdict).toBe("block");
    expect(result.reasons[0]).toBe(`critical: #361592 ${systemdBoot.title} (systemd)`);
    const [pin, hold] = result.suggestions;
    expect(pin?.nix).toBe(
      'inputs.nixpkgs.url = "github:NixOS/nixpkgs/a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";',
    );
    expect(hold?.nix).toContain(
      'inputs.nixpkgs-pinned.url = "github:NixOS/nixpkgs/a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";',
    );
    expect(hold?.nix).toContain(
      "systemd = nixpkgs-pinned.legacyPackages.${prev.stdenv.hostPlatform.system}.systemd;",
    );
    expect(nextStepFor(result)).toMatch(/^Do not update/);
  });

  it("says where the rev is when the lock was not read, and quotes names that are no identifiers", () => {
    const result = assessRisk({
      issues: { status: "ok", matches: [{ ...systemdBoot, package: "python3.12-requests" }] },
    });
    expect(result.suggestions[0]?.nix).toBe('inputs.nixpkgs.url = "github:NixOS/nixpkgs/<rev>";');
    expect(result.suggestions[0]?.title).toMatch(/nodes\.nixpkgs\.locked\.rev/);
    expect(result.suggestions[1]?.nix).toContain('"python3.12-requests" = nixpkgs-pinned');
  });

  it("blocks a failed build or a broken configuration whatever the issues say", () => {
    expect(assessRisk({ issues: clean, build: { ok: false, failedHosts: ["p620"] } }).verdict).toBe("block");
    expect(
      assessRisk({ issues: clean, scan: { errors: 1, warnings: 0, firstError: "syntax" } }).verdict,
    ).toBe("block");
    expect(assessRisk({ issues: clean, preview: { changedPackages: 0, error: "nix failed" } }).verdict).toBe(
      "confirm",
    );
  });

  it("puts the worst reason first", () => {
    const result = assessRisk({
      issues: {
        status: "degraded",
        reason: "rate limited",
        matches: [{ number: 2, title: "x", package: "x", severity: "high" }, systemdBoot],
      },
    });
    expect(result.verdict).toBe("block");
    expect(result.reasons[0]).toMatch(/^critical/);
    expect(result.reasons).toHaveLength(3);
  });
});
