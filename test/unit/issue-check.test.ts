import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { quietHooks } from "../../src/engine/hooks.js";
import { DEFAULT_GITHUB_API, ghConfigToken, githubSettings } from "../../src/engine/updates/github.js";
import { checkIssuesForUpdate, type IssueCheckResult } from "../../src/engine/updates/issue-check.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { CHANGING, fakeSettings, LOCKED_REV, scratchFlake } from "../support/issue-check.js";

let fake: FakeGithub;
let scratch: ReturnType<typeof scratchFlake>;
let engine: Engine;
let logFile: string;

beforeEach(async () => {
  fake = await startFakeGithub();
  scratch = scratchFlake();
  logFile = join(scratch.root, "check.log");
  engine = createEngine({
    flake: scratch.flake,
    logFile,
    env: { XDG_STATE_HOME: scratch.state, LOG_LEVEL: "debug" },
  });
});

afterEach(async () => {
  await engine.close();
  await fake.stop();
  rmSync(scratch.root, { recursive: true, force: true });
});

function check(
  input: Partial<Parameters<typeof checkIssuesForUpdate>[1]> = {},
  env: NodeJS.ProcessEnv = {},
  overrides: Parameters<typeof fakeSettings>[3] = {},
) {
  return checkIssuesForUpdate(
    engine,
    { packages: CHANGING, newLockDate: "2026-11-20T00:00:00Z", ...input },
    quietHooks(),
    fakeSettings(fake.url, scratch.state, env, overrides),
  );
}

const numbers = (list: Array<{ number: number }>) => list.map((m) => m.number);

describe("check_nixpkgs_issues against recorded GitHub answers", () => {
  it("finds, classes and notes fixed issues for exactly the changing packages", async () => {
    const result = await check();
    expect(result.status).toBe("ok");
    expect(result.since).toBe("2026-11-01");
    expect(result.sinceFrom).toBe("flake.lock");
    expect(numbers(result.matches.critical)).toEqual([362010, 361592]);
    expect(numbers(result.matches.high)).toEqual([361321, 360871, 359500, 358400]);
    expect(numbers(result.matches.medium)).toEqual([361800, 357777]);
    // linux-firmware's issues are not linux's; "Go back button" is not go; gnome-shell is older than the lock.
    const all = [...result.matches.critical, ...result.matches.high, ...result.matches.medium];
    expect(all.map((m) => m.number)).not.toContain(359002);
    expect(all.map((m) => m.number)).not.toContain(358900);
    expect(all.map((m) => m.number)).not.toContain(360000);
    const byNumber = new Map(all.map((m) => [m.number, m]));
    expect(byNumber.get(362010)?.fixed).toMatch(/closed 2026-11-12/);
    expect(byNumber.get(359500)?.fixed).toMatch(/fixed in 3\.3\.1/);
    expect(byNumber.get(357777)?.fixed).toMatch(/closed 2026-11-10/);
    expect(byNumber.get(361592)).toMatchObject({
      package: "systemd",
      url: "https://github.com/NixOS/nixpkgs/issues/361592",
      labels: ["0.kind: regression", "0.kind: bug", "6.topic: systemd"],
    });
    expect(byNumber.get(361592)?.why).toMatch(/boot failure.*covers the new 256\.8/);
    expect(byNumber.get(361592)?.fixed).toBeUndefined();
  });

  it("asks one label per query, since the lock's date", async () => {
    await check();
    expect(fake.requests).toHaveLength(5);
    for (const request of fake.requests) {
      expect(request.path).toBe("/search/issues");
      expect(request.q).toContain("repo:NixOS/nixpkgs is:issue updated:>=2026-11-01");
      expect((request.q.match(/label:/g) ?? []).length).toBeLessThanOrEqual(1);
    }
  });

  it("blocks on the open critical issue and offers the pin to the locked revision", async () => {
    const { verdict, next } = await check();
    expect(verdict.verdict).toBe("block");
    expect(verdict.reasons[0]).toBe(
      "critical: #361592 systemd 256.8: fails to boot with LUKS root on UEFI after update (systemd)",
    );
    expect(verdict.suggestions[0]?.nix).toBe(`inputs.nixpkgs.url = "github:NixOS/nixpkgs/${LOCKED_REV}";`);
    expect(verdict.suggestions[1]?.nix).toContain(
      "systemd = nixpkgs-pinned.legacyPackages.${prev.stdenv.hostPlatform.system}.systemd;",
    );
    expect(next).toMatch(/^Do not update/);
  });

  it("proceeds only when GitHub answered and nothing matched", async () => {
    const result = await check({
      packages: ["hello", { name: "ripgrep", oldVersion: "14.1.0", newVersion: "14.1.1" }],
    });
    expect(result.status).toBe("ok");
    expect(result.verdict.verdict).toBe("proceed");
  });

  it("answers a repeated check from the cache without a request, in 0600 files", async () => {
    const first = await check();
    const sent = fake.requests.length;
    const second = await check();
    expect(fake.requests.length).toBe(sent);
    expect(second.searches).toEqual({ total: 5, answered: 5, fromCache: 5, requests: 0 });
    expect({ ...second, searches: undefined }).toEqual({ ...first, searches: undefined });
    const dir = join(scratch.state, "nix-deploy", "cache", "github");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir);
    expect(files).toHaveLength(5);
    for (const file of files) {
      expect(file).toMatch(/^[0-9a-f]{32}\.json$/);
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    }
    const refreshed = await check({ refresh: true });
    expect(fake.requests.length).toBe(sent + 5);
    expect(refreshed.searches.fromCache).toBe(0);
  });

  it("asks again once the cached answers are older than the TTL", async () => {
    await check({}, { NIX_DEPLOY_GITHUB_CACHE_TTL: "0" });
    await check({}, { NIX_DEPLOY_GITHUB_CACHE_TTL: "0" });
    expect(fake.requests).toHaveLength(10);
  });
});

describe("when GitHub limits or fails, the check degrades and never says proceed", () => {
  const quiet = { packages: ["hello"] };

  it("rate limited (403, x-ratelimit-remaining 0, reset beyond the wait bound)", async () => {
    fake.fault = { kind: "rate-limit", resetInSeconds: 3600 };
    const result = await check(quiet);
    expect(result.status).toBe("degraded");
    expect(result.reason).toMatch(/^rate limited by GitHub until .*; 0 of 5 searches answered$/);
    expect(result.verdict.verdict).toBe("confirm");
    // The reset time is known: the other queries are not sent only to be refused.
    expect(fake.requests).toHaveLength(1);
  });

  it("rate limited part way: what answered is kept, the rest is said", async () => {
    fake.fault = { kind: "rate-limit", resetInSeconds: 3600, after: 2 };
    const result = await check();
    expect(result.status).toBe("degraded");
    expect(result.reason).toMatch(/2 of 5 searches answered/);
    expect(numbers(result.matches.critical)).toContain(361592);
    expect(result.verdict.verdict).toBe("block");
  });

  it("an answer saying no requests remain spares the searches that would be refused", async () => {
    fake.remaining = 0;
    fake.resetInSeconds = 3600;
    const result = await check();
    expect(fake.requests).toHaveLength(1);
    expect(result.status).toBe("degraded");
    expect(result.reason).toMatch(/rate limited by GitHub until .*; 1 of 5 searches answered$/);
    expect(result.verdict.verdict).toBe("block");
  });

  it("waits out a short rate limit within the bound, then answers", async () => {
    fake.fault = { kind: "rate-limit", resetInSeconds: 1, times: 1 };
    const result = await check(quiet);
    expect(result.status).toBe("ok");
    expect(fake.requests).toHaveLength(6);
  });

  it("honours retry-after of a secondary rate limit", async () => {
    fake.fault = { kind: "secondary-rate-limit", retryAfterSeconds: 3600 };
    const result = await check(quiet);
    expect(result.status).toBe("degraded");
    expect(result.reason).toMatch(/rate limited/);
    expect(result.verdict.verdict).not.toBe("proceed");
  });

  it("incomplete results from GitHub: degraded, what came is kept", async () => {
    fake.incompleteResults = true;
    const result = await check();
    expect(result.status).toBe("degraded");
    expect(result.reason).toMatch(/^GitHub returned only part of the issues \(label "0.kind: regression": /);
    expect(numbers(result.matches.critical)).toContain(361592);
    const quietResult = await check({ ...quiet, refresh: true });
    expect(quietResult.verdict.verdict).toBe("confirm");
  });

  it("500: retried within the bound, then unavailable", async () => {
    fake.fault = { kind: "error", status: 500 };
    const result = await check(quiet);
    expect(result.status).toBe("unavailable");
    expect(result.reason).toMatch(/GitHub answered 500/);
    expect(result.verdict.verdict).toBe("confirm");
    expect(result.verdict.reasons[0]).toMatch(/unavailable.*unknown/);
    expect(fake.requests).toHaveLength(3);
  });

  it("a passing 500 is retried and the check completes", async () => {
    fake.fault = { kind: "error", status: 502, times: 1 };
    expect((await check(quiet)).status).toBe("ok");
  });

  it("timeout: a GitHub that never answers is given up on within the bound", async () => {
    fake.fault = { kind: "timeout" };
    const started = Date.now();
    const result = await check(quiet, {}, { timeoutMs: 300 });
    expect(result.status).toBe("unavailable");
    expect(result.reason).toBe("GitHub did not answer within 0.3 s");
    expect(result.verdict.verdict).toBe("confirm");
    expect(fake.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("connection refused: unavailable, with the reason", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await checkIssuesForUpdate(
      engine,
      { packages: ["hello"] },
      quietHooks(),
      fakeSettings(`http://127.0.0.1:${port}`, scratch.state),
    );
    expect(result.status).toBe("unavailable");
    expect(result.reason).toMatch(/could not be reached.*ECONNREFUSED/);
    expect(result.verdict.verdict).toBe("confirm");
  });
});

describe("the GitHub token", () => {
  const token = "ghp_nixDeployTestToken0123456789abcdefXYZ";

  it("is sent to GitHub and never appears in the result or the log", async () => {
    let result: IssueCheckResult = await check({}, { GITHUB_TOKEN: token });
    fake.fault = { kind: "error", status: 401, times: 1 };
    result = { ...result, ...(await check({ refresh: true }, { GITHUB_TOKEN: token })) };
    expect(fake.requests[0]?.authorization).toBe(`token ${token}`);
    expect(result.authenticated).toBe(true);
    expect(result.reason).toMatch(/refused the token/);
    expect(JSON.stringify(result)).not.toContain(token);
    const log = readFileSync(logFile, "utf8");
    expect(log).toContain("nixpkgs issues checked");
    expect(log).toContain('"tokenSource":"GITHUB_TOKEN"');
    expect(log).not.toContain(token);
    const cache = join(scratch.state, "nix-deploy", "cache", "github");
    for (const file of readdirSync(cache))
      expect(readFileSync(join(cache, file), "utf8")).not.toContain(token);
  });

  it("is read from gh's hosts.yml, but only for api.github.com", () => {
    const gh = join(scratch.root, "gh");
    mkdirSync(gh);
    writeFileSync(
      join(gh, "hosts.yml"),
      `github.example.com:\n    oauth_token: gho_other\ngithub.com:\n    users:\n        someone:\n            oauth_token: ${token}\n    git_protocol: https\n    user: someone\n`,
    );
    expect(ghConfigToken({ GH_CONFIG_DIR: gh })).toBe(token);
    expect(githubSettings({ GH_CONFIG_DIR: gh })).toMatchObject({
      baseUrl: DEFAULT_GITHUB_API,
      tokenSource: "gh config",
    });
    const elsewhere = githubSettings({ GH_CONFIG_DIR: gh, NIX_DEPLOY_GITHUB_API: fake.url });
    expect(elsewhere.tokenSource).toBe("none");
    expect(elsewhere.token).toBeUndefined();
    expect(githubSettings({ GH_CONFIG_DIR: gh, GITHUB_TOKEN: "ghp_env" })).toMatchObject({
      token: "ghp_env",
      tokenSource: "GITHUB_TOKEN",
    });
    expect(githubSettings({ GH_CONFIG_DIR: join(scratch.root, "none") }).tokenSource).toBe("none");
  });
});
