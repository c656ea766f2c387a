import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { commitChanges, conventionalMessage, githubRepository } from "../../src/engine/updates/commit.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";

const IDENTITY = {
  GIT_AUTHOR_NAME: "nix-deploy test",
  GIT_AUTHOR_EMAIL: "test@nix-deploy.invalid",
  GIT_COMMITTER_NAME: "nix-deploy test",
  GIT_COMMITTER_EMAIL: "test@nix-deploy.invalid",
};

describe("issue-referenced commits", () => {
  let root: string;
  let work: string;
  let bare: string;
  let fake: FakeGithub;
  let engine: Engine;
  const token = "ghp_commitTestTokenNeverShown0123456789";
  const git = (cwd: string, ...args: string[]) =>
    execa("git", args, { cwd, env: { ...process.env, ...IDENTITY } });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "nix-deploy-commit-"));
    bare = join(root, "remote.git");
    work = join(root, "flake");
    mkdirSync(work);
    await git(root, "init", "-q", "--bare", "-b", "main", bare);
    await git(work, "init", "-q", "-b", "main");
    writeFileSync(join(work, "flake.lock"), "{}\n");
    writeFileSync(join(work, "flake.nix"), "{ outputs = _: { }; }\n");
    await git(work, "add", "-A");
    await git(work, "commit", "-q", "-m", "initial");
    await git(work, "remote", "add", "origin", bare);
    await git(work, "push", "-q", "origin", "main");
    fake = await startFakeGithub();
    engine = createEngine({
      flake: work,
      logFile: false,
      env: {
        ...process.env,
        ...IDENTITY,
        EDITOR: "vi",
        GITHUB_TOKEN: token,
        NIX_DEPLOY_GITHUB_API: fake.url,
        XDG_STATE_HOME: join(root, "state"),
      },
    });
  });

  afterAll(async () => {
    await engine?.close();
    await fake?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("pushes only to a configured remote, never to a path whose hooks would run", async () => {
    const evil = join(root, "evil.git");
    const marker = join(root, "hook-ran");
    await git(root, "init", "-q", "--bare", evil);
    writeFileSync(join(evil, "hooks", "pre-receive"), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    const head = (await git(work, "rev-parse", "HEAD")).stdout;
    writeFileSync(join(work, "flake.lock"), '{"version": 8}\n');
    await expect(
      commitChanges(
        engine,
        work,
        { issue: 1, type: "chore", scope: "flake", push: true, remote: evil },
        { subject: "update", files: ["flake.lock"], type: "chore", scope: "flake" },
      ),
    ).rejects.toThrow(`"${evil}" is not a remote of ${work}`);
    expect(existsSync(marker)).toBe(false);
    expect((await git(work, "rev-parse", "HEAD")).stdout).toBe(head);
    await git(work, "checkout", "--", "flake.lock");
  });

  it("writes conventional messages that reference the issue", () => {
    expect(conventionalMessage("feat", "monitoring", "add postgres\nmonitoring", 123)).toBe(
      "feat(monitoring): add postgres monitoring (#123)",
    );
    expect(conventionalMessage("chore", "flake", "update nixpkgs")).toBe("chore(flake): update nixpkgs");
    expect(githubRepository("git@github.com:acme/fleet.git")).toBe("acme/fleet");
    expect(githubRepository("https://github.com/acme/fleet")).toBe("acme/fleet");
    expect(githubRepository("/srv/git/fleet.git")).toBeUndefined();
  });

  it("commits only the named files on a new branch, pushes it and opens a pull request", async () => {
    writeFileSync(join(work, "flake.lock"), '{"version": 7}\n');
    writeFileSync(join(work, "flake.nix"), "{ outputs = _: { }; } # unrelated edit\n");
    const result = await commitChanges(
      engine,
      work,
      {
        issue: 123,
        type: "feat",
        scope: "monitoring",
        subject: "add postgres monitoring",
        branch: "postgres-monitoring",
        pullRequest: { repository: "acme/fleet", base: "main" },
      },
      { files: ["flake.lock"], type: "chore", scope: "flake", subject: "update nixpkgs" },
    );
    expect(result).toMatchObject({
      message: "feat(monitoring): add postgres monitoring (#123)",
      branch: "postgres-monitoring",
      pushed: true,
      pullRequest: { number: 1, url: "https://github.com/acme/fleet/pull/1" },
    });
    const remoteLog = await git(
      root,
      "--git-dir",
      bare,
      "log",
      "-1",
      "--format=%H %s",
      "postgres-monitoring",
    );
    expect(remoteLog.stdout.trim()).toBe(`${result.commit} feat(monitoring): add postgres monitoring (#123)`);
    expect((await git(work, "status", "--porcelain")).stdout.trim()).toBe("M flake.nix");
    expect(fake.pulls).toEqual([
      {
        owner: "acme",
        repo: "fleet",
        head: "postgres-monitoring",
        base: "main",
        title: "feat(monitoring): add postgres monitoring (#123)",
        body: "Deployed with nix-deploy.\n\nRefs #123",
        authorization: `token ${token}`,
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(token);
  });

  it("refuses a pull request with push: false before committing anything", async () => {
    writeFileSync(join(work, "flake.lock"), '{"version": 9}\n');
    const head = (await git(work, "rev-parse", "HEAD")).stdout.trim();
    await expect(
      commitChanges(
        engine,
        work,
        { push: false, pullRequest: { repository: "acme/fleet" } },
        { files: ["flake.lock"], type: "chore", scope: "flake", subject: "update nixpkgs" },
      ),
    ).rejects.toThrow(/^a pull request needs the branch pushed, and push is false$/);
    expect((await git(work, "rev-parse", "HEAD")).stdout.trim()).toBe(head);
    await git(work, "checkout", "--", "flake.lock");
  });

  it("says what was done when the pull request cannot be opened", async () => {
    writeFileSync(join(work, "flake.lock"), '{"version": 8}\n');
    fake.fault = { kind: "error", status: 500, times: 1 };
    await expect(
      commitChanges(
        engine,
        work,
        { issue: 7, pullRequest: { repository: "acme/fleet" } },
        { files: ["flake.lock"], type: "chore", scope: "flake", subject: "update nixpkgs" },
      ),
    ).rejects.toThrow(/pushed, but GitHub did not open the pull request \(HTTP 500\)/);
  });
});
