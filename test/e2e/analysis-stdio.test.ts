/**
 * validate_syntax, scan_antipatterns and security_audit through a real MCP client over stdio, on a
 * copy of the simulated fleet's flake (its own git repository, evaluated by real Nix).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { connectStdio, textOf } from "./client.js";

const skip = skipFleetReason();

type Finding = {
  code: string;
  severity: string;
  file: string;
  line: number;
  column: number;
  message: string;
  source?: string;
  fix?: unknown[];
};

describe.skipIf(skip)("static analysis tools over stdio on the simulated fleet", () => {
  let fleet: SimFleet;
  let server: Awaited<ReturnType<typeof connectStdio>>;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await server.client.callTool({ name, arguments: args });
    expect(result.isError, textOf(result)).toBeFalsy();
    // Results are for an assistant's context: counts and the first findings, not everything.
    expect(textOf(result).length, `${name} result size`).toBeLessThan(3000);
    return result.structuredContent as Record<string, unknown>;
  };

  beforeAll(async () => {
    // No host needs to answer: the analysis reads and evaluates the flake only.
    fleet = await startFleet({ hosts: ["samsung"] });
    server = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
  });

  afterAll(async () => {
    await server?.close();
    await fleet?.stop();
  });

  it("offers the three tools with output schemas and explicit annotations", async () => {
    const { tools } = await server.client.listTools();
    for (const name of ["validate_syntax", "scan_antipatterns", "security_audit"]) {
      const tool = tools.find((t) => t.name === name);
      expect(tool?.outputSchema?.type).toBe("object");
      expect(Object.keys(tool?.annotations ?? {})).toEqual(
        expect.arrayContaining(["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"]),
      );
    }
  });

  it("validates the whole flake in one pass, then reports each error with file:line:col and skips binaries", async () => {
    const clean = await call("validate_syntax");
    expect(clean).toMatchObject({ filesChecked: 5, errorCount: 0, errors: [] });

    writeFileSync(
      join(fleet.flakeDir, "hosts", "broken.nix"),
      "{\n  services = {\n    x = 1\n  };\n  y = ;\n}\n",
    );
    writeFileSync(join(fleet.flakeDir, "blob.nix"), Buffer.from([0x7b, 0x00, 0x01, 0x7d]));
    writeFileSync(join(fleet.flakeDir, ".gitignore"), "ignored/\n");
    mkdirSync(join(fleet.flakeDir, "ignored"), { recursive: true });
    writeFileSync(join(fleet.flakeDir, "ignored", "bad.nix"), "{");
    try {
      const out = (await call("validate_syntax")) as {
        errors: Finding[];
        skipped: unknown[];
        errorCount: number;
        summary: string;
      };
      expect(out.errorCount).toBe(2);
      expect(out.errors.map((e) => `${e.file}:${e.line}:${e.column}`)).toEqual([
        "hosts/broken.nix:4:3",
        "hosts/broken.nix:5:7",
      ]);
      expect(out.errors[0]?.source).toBe("  };");
      expect(out.skipped).toEqual([{ file: "blob.nix", reason: "binary (contains NUL bytes)" }]);
      expect(out.summary).toMatch(/^2 syntax errors in 1 of \d+ files; first: hosts\/broken\.nix:4:3/);
    } finally {
      for (const f of ["hosts/broken.nix", "blob.nix", ".gitignore", "ignored"])
        rmSync(join(fleet.flakeDir, f), { recursive: true });
    }
  });

  it("scans for anti-patterns, honours suppressions, and applies fixes only when asked, with a backup", async () => {
    const file = join(fleet.flakeDir, "hosts", "extra.nix");
    const code = [
      "{ lib, ... }:",
      "{",
      "  services.a = lib.mkIf true { enable = true; };",
      "  # nix-deploy: allow unquoted-uri",
      "  src = https://example.org/a.tar.gz;",
      '  users.users.alice.initialPassword = "hunter2";',
      "}",
      "",
    ].join("\n");
    writeFileSync(file, code);
    try {
      const out = (await call("scan_antipatterns", { changed: true })) as {
        filesScanned: number;
        findings: Finding[];
        counts: { block: number };
        byCode: Record<string, number>;
      };
      expect(out.filesScanned).toBe(1);
      expect(out.byCode).toEqual({ "mkif-true": 1, "plain-password": 1 });
      expect(out.counts.block).toBe(2);
      const mkIf = out.findings.find((f) => f.code === "mkif-true");
      expect(mkIf).toMatchObject({ file: "hosts/extra.nix", line: 3, column: 16, severity: "block" });
      expect(mkIf?.fix).toHaveLength(1);
      expect(readFileSync(file, "utf8")).toBe(code);

      const fixed = (await call("scan_antipatterns", { changed: true, fix: true })) as {
        fixed: Array<{ file: string; fixes: number; backup: string }>;
        byCode: Record<string, number>;
      };
      expect(fixed.fixed).toMatchObject([{ file: "hosts/extra.nix", fixes: 1 }]);
      expect(readFileSync(file, "utf8")).toContain("services.a = { enable = true; };");
      expect(readFileSync(fixed.fixed[0]?.backup as string, "utf8")).toBe(code);
      // With mkIf gone, `lib` is unused: the next finding, reported, not silently "fixed" away.
      expect(fixed.byCode).toEqual({ "plain-password": 1, "unused-binding": 1 });

      const bad = await server.client.callTool({
        name: "scan_antipatterns",
        arguments: { rules: ["no-such-rule"] },
      });
      expect(bad.isError).toBe(true);
      expect(textOf(bad)).toMatch(/^unknown rule codes: no-such-rule\nWhat to do: use codes from: /);
    } finally {
      rmSync(file);
    }
  });

  it("audits the source and the evaluated hosts, flagging only what changed since the base", async () => {
    const before = (await call("security_audit")) as {
      hosts: Array<{
        host: string;
        newPorts: string[];
        findings: unknown[];
        openTCPPorts: string[];
        exposedServices: number;
      }>;
      source: { findings: Finding[] };
      base: { commit?: string };
    };
    expect(before.base.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(before.hosts.map((h) => h.host)).toEqual(["p510", "p620", "razer", "samsung"]);
    expect(before.hosts.flatMap((h) => h.findings)).toEqual([]);
    expect(before.hosts.find((h) => h.host === "p510")?.openTCPPorts).toEqual(["22", "80", "443"]);
    // sshd runs as root on every host: counted, and reported by the source layer, never "new".
    expect(before.hosts.every((h) => h.exposedServices >= 1)).toBe(true);
    expect(
      before.source.findings.some((f) => f.code === "service-without-user" && f.file === "hosts/p510.nix"),
    ).toBe(true);

    const host = join(fleet.flakeDir, "hosts", "p510.nix");
    const original = readFileSync(host, "utf8");
    writeFileSync(
      host,
      original
        .replace("[ 22 80 443 ]", "[ 22 80 443 8080 ]")
        .replace(
          "  };\n  firewall",
          '    webhook = { package = "nginx"; serviceConfig = { Restart = "always"; }; };\n  };\n  firewall',
        ),
    );
    const after = (await call("security_audit", { hosts: ["p510"] })) as {
      hosts: Array<{ host: string; newPorts: string[]; findings: Array<{ code: string; message: string }> }>;
      summary: string;
    };
    const p510 = after.hosts[0];
    expect(p510?.newPorts).toEqual(["tcp/8080"]);
    expect(p510?.findings.map((f) => f.code).sort()).toEqual(["new-open-port", "new-unhardened-service"]);
    expect(p510?.findings.find((f) => f.code === "new-unhardened-service")?.message).toMatch(
      /^p510: new service webhook scores 9\.\d UNSAFE/,
    );
    expect(after.summary).toMatch(
      /1 hosts evaluated against HEAD \([0-9a-f]{7}\): 1 new open ports, 1 firewall\/service regressions/,
    );

    // Committed, the change is the base: nothing new against HEAD, all of it against HEAD~1.
    await fleet.commit("p510: webhook on 8080");
    const committed = (await call("security_audit", { hosts: ["p510"], evaluate: true })) as typeof after;
    expect(committed.hosts[0]?.findings).toEqual([]);
    const sincePrevious = (await call("security_audit", { hosts: ["p510"], base: "HEAD~1" })) as typeof after;
    expect(sincePrevious.hosts[0]?.newPorts).toEqual(["tcp/8080"]);
    expect(existsSync(host)).toBe(true);
  });

  it("turns a bad base or host into a tool error with a remedy", async () => {
    const badRef = await server.client.callTool({
      name: "security_audit",
      arguments: { base: "no-such-branch" },
    });
    expect(badRef.isError).toBe(true);
    expect(textOf(badRef)).toMatch(/^the git ref no-such-branch does not exist in .*\nWhat to do: /);
    const badHost = await server.client.callTool({ name: "security_audit", arguments: { hosts: ["nope"] } });
    expect(textOf(badHost)).toBe(
      `no nixosConfigurations for nope in ${fleet.flakeDir}\nWhat to do: choose among: p510, p620, razer, samsung`,
    );
  });
});
