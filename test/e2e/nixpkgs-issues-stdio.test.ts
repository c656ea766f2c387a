import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { CHANGING, LOCKED_REV, scratchFlake } from "../support/issue-check.js";
import { connectStdio, expectReadOnlyTools, textOf } from "./client.js";

describe("check_nixpkgs_issues over stdio against a fake GitHub", () => {
  let fake: FakeGithub;
  let scratch: ReturnType<typeof scratchFlake>;
  let server: Awaited<ReturnType<typeof connectStdio>>;
  const token = "ghp_e2eTokenThatMustNeverShow0123456789";

  beforeAll(async () => {
    fake = await startFakeGithub();
    scratch = scratchFlake();
    server = await connectStdio(["--flake", scratch.flake], {
      NIX_DEPLOY_GITHUB_API: fake.url,
      XDG_STATE_HOME: scratch.state,
      GITHUB_TOKEN: token,
      LOG_LEVEL: "debug",
    });
  });

  afterAll(async () => {
    await server?.close();
    await fake?.stop();
    rmSync(scratch.root, { recursive: true, force: true });
  });

  it("is listed read-only, idempotent and open-world, with an output schema", async () => {
    await expectReadOnlyTools(server.client, ["check_nixpkgs_issues"]);
  });

  it("blocks on a critical issue, then answers the same question from the cache", async () => {
    const args = { packages: [...CHANGING, "hello"], newLockDate: "2026-11-20" };
    const result = await server.client.callTool({ name: "check_nixpkgs_issues", arguments: args });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as {
      status: string;
      since: string;
      matches: { critical: Array<{ number: number; fixed?: string }> };
      verdict: { verdict: string; suggestions: Array<{ nix: string }> };
      next: string;
    };
    expect(out.status).toBe("ok");
    expect(out.since).toBe("2026-11-01");
    expect(out.matches.critical.map((m) => [m.number, Boolean(m.fixed)])).toEqual([
      [362010, true],
      [361592, false],
    ]);
    expect(out.verdict.verdict).toBe("block");
    expect(out.verdict.suggestions[0]?.nix).toBe(
      `inputs.nixpkgs.url = "github:NixOS/nixpkgs/${LOCKED_REV}";`,
    );
    expect(JSON.parse(textOf(result))).toEqual(out);

    const sent = fake.requests.length;
    // Four labels, and seven names in two title searches (six names at most per query).
    expect(sent).toBe(6);
    expect(fake.requests.every((r) => r.authorization === `token ${token}`)).toBe(true);
    const again = await server.client.callTool({ name: "check_nixpkgs_issues", arguments: args });
    expect(fake.requests.length).toBe(sent);
    expect((again.structuredContent as { verdict: unknown }).verdict).toEqual(out.verdict);
    expect(JSON.stringify(again)).not.toContain(token);
    expect(server.stderr()).not.toContain(token);
  });

  it("says GitHub is unavailable and asks, rather than proceeding", async () => {
    fake.fault = { kind: "error", status: 500 };
    const result = await server.client.callTool({
      name: "check_nixpkgs_issues",
      arguments: { packages: ["ripgrep"], refresh: true },
    });
    fake.fault = undefined;
    const out = result.structuredContent as { status: string; reason: string; verdict: { verdict: string } };
    expect(out.status).toBe("unavailable");
    expect(out.reason).toMatch(/500/);
    expect(out.verdict.verdict).toBe("confirm");
  });

  it("refuses a package name that would change the query, naming the field", async () => {
    const result = await server.client.callTool({
      name: "check_nixpkgs_issues",
      arguments: { packages: ['x" repo:evil/repo'] },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/packages/);
  });
});
