import { describe, expect, it } from "vitest";
import { analyzeSource } from "../../src/engine/analysis/analyze.js";
import { exposureLevel, exposureOf } from "../../src/engine/analysis/exposure.js";
import { SECURITY_CODES, SECURITY_RULES } from "../../src/engine/analysis/security.js";
import { SourceText } from "../../src/engine/analysis/source.js";

const cases: Array<{ code: string; positive: string; nearMiss: string }> = [
  {
    code: "permit-root-login",
    positive: '{ services.openssh.settings.PermitRootLogin = "yes"; }',
    nearMiss: '{ services.openssh.settings.PermitRootLogin = "prohibit-password"; }',
  },
  {
    code: "password-authentication",
    positive: "{ services.openssh = { settings = { PasswordAuthentication = true; }; }; }",
    nearMiss: "{ services.openssh.settings.PasswordAuthentication = false; }",
  },
  {
    code: "firewall-disabled",
    positive: "{ lib, ... }: { networking = { firewall.enable = lib.mkForce false; }; }",
    nearMiss: "{ networking.firewall.enable = true; }",
  },
  {
    code: "open-firewall",
    positive: "{ services.jellyfin = { enable = true; openFirewall = true; }; }",
    nearMiss: "{ services.jellyfin.openFirewall = false; }",
  },
  {
    code: "open-ports",
    positive: "{ networking.firewall.allowedTCPPorts = [ 22 8080 ]; }",
    nearMiss: "{ networking.firewall.allowedTCPPorts = [ ]; }",
  },
  {
    code: "wheel-without-password",
    positive: "{ security.sudo.wheelNeedsPassword = false; }",
    nearMiss: "{ security.sudo.wheelNeedsPassword = true; }",
  },
  {
    code: "trusted-users",
    positive: '{ nix.settings.trusted-users = [ "root" "alice" ]; }',
    nearMiss: '{ nix.settings.trusted-users = [ "root" ]; }',
  },
  {
    code: "service-runs-as-root",
    positive: '{ systemd.services.backup.serviceConfig.User = "root"; }',
    nearMiss: '{ systemd.services.backup.serviceConfig.User = "backup"; }',
  },
  {
    code: "service-without-user",
    positive:
      '{ lib, ... }: { systemd.services.web = lib.mkIf true { serviceConfig = { ExecStart = "x"; }; }; }',
    nearMiss: '{ systemd.services.web.serviceConfig = { ExecStart = "x"; DynamicUser = true; }; }',
  },
];

const codes = (code: string) =>
  analyzeSource("host.nix", SourceText.fromString(code), { rules: SECURITY_RULES }).findings.map(
    (f) => f.code,
  );

describe("security audit, source layer", () => {
  it("has a case for every code", () => {
    expect(SECURITY_CODES.filter((c) => !cases.some((k) => k.code === c))).toEqual([]);
  });
  it.each(cases.map((c) => [c.code, c]))(
    "%s fires on its positive case and not on the near miss",
    (_c, c) => {
      expect(codes(c.positive)).toContain(c.code);
      expect(codes(c.nearMiss)).not.toContain(c.code);
    },
  );
  it("names the full attribute path in its message", () => {
    const [finding] = analyzeSource(
      "h.nix",
      SourceText.fromString("{ services.x = { openFirewall = true; }; }"),
      {
        rules: SECURITY_RULES,
      },
    ).findings;
    expect(finding?.message).toMatch(/^`services\.x\.openFirewall` opens/);
  });
});

describe("exposure score", () => {
  it("scores an unhardened root service as UNSAFE and a hardened one as OK", () => {
    const root = exposureOf({ Restart: "always" });
    expect(root.score).toBeGreaterThan(9);
    expect(exposureLevel(root.score)).toBe("UNSAFE");
    expect(root.worst[0]).toBe("PrivateNetwork");
    const hardened = exposureOf({
      DynamicUser: true,
      ProtectSystem: "strict",
      ProtectHome: true,
      PrivateTmp: true,
      PrivateDevices: true,
      PrivateNetwork: true,
      PrivateUsers: true,
      NoNewPrivileges: true,
      ProtectKernelTunables: true,
      ProtectKernelModules: true,
      ProtectKernelLogs: true,
      ProtectControlGroups: true,
      ProtectClock: true,
      RestrictSUIDSGID: true,
      RestrictNamespaces: true,
      RestrictAddressFamilies: ["AF_UNIX"],
      SystemCallFilter: ["@system-service"],
      SystemCallArchitectures: "native",
      CapabilityBoundingSet: "",
      IPAddressDeny: "any",
      ProtectProc: "invisible",
    });
    expect(exposureLevel(hardened.score)).toBe("OK");
  });

  it("improves with each hardening property, weighted", () => {
    const base = exposureOf({}).score;
    const user = exposureOf({ User: "nginx" }).score;
    const tmp = exposureOf({ PrivateTmp: true }).score;
    expect(user).toBeLessThan(base);
    expect(tmp).toBeLessThan(base);
    // User/DynamicUser weighs twice PrivateTmp in systemd's table.
    expect(base - user).toBeGreaterThan(base - tmp);
    expect(exposureOf({ SystemCallFilter: "~@mount @reboot" }).score).toBeLessThan(base);
  });
});
