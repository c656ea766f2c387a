/**
 * bundle/: the server and CLI as the Claude Code plugin (.mcp.json) and the npm package (bin) run
 * them, from a clone with no npm ci and no build. It must be built from the current sources, and
 * every part that loads code or files at run time must work from it: the chunks loaded when first
 * used (simple-git, octokit, execa), the analysis's worker thread, templates/report.md, package.json.
 * So the tests run it from a copy of the plugin's files outside the repository, where no
 * node_modules lies above to hide a missing dependency.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, installMismatch } from "../../scripts/bundle.js";
import { DeploymentStore } from "../../src/engine/deploy/record.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { CHANGING, scratchFlake } from "../support/issue-check.js";
import { BUNDLE_ENTRY, connectStdio, type StdioServer, textOf } from "./client.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** The plugin as a marketplace install leaves it: the package's files, in a directory of their own. */
function pluginCopy(dir: string): { entry: string; cli: string } {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { files: string[] };
  for (const path of [...pkg.files, "package.json"])
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  const mcp = JSON.parse(readFileSync(join(dir, ".mcp.json"), "utf8"));
  const [entry] = (mcp.mcpServers["nix-deploy"].args as string[]).map((a) =>
    a.replace("${CLAUDE_PLUGIN_ROOT}", dir),
  );
  return { entry: entry as string, cli: join(dir, "bundle", "nix-deploy.js") };
}

describe("bundle/", () => {
  it("is built from the current sources and locked dependencies (else: npm run bundle)", () => {
    const check = spawnSync(
      process.execPath,
      ["--import", "tsx", join(ROOT, "scripts", "bundle.ts"), "--check"],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    expect(check.stderr).toContain("bundle/ matches the sources");
    expect(check.status).toBe(0);
  });

  // The hash above trusts bundle/inputs.json, which whoever built the bundle wrote: rebuilding and
  // comparing the bytes is what shows that the committed code is the sources' and the lock's.
  const mismatch = installMismatch();
  if (mismatch && process.env.CI === "true") throw new Error(`CI must rebuild the bundle, but ${mismatch}`);
  if (mismatch) console.warn(`skipping the bundle rebuild test: ${mismatch}`);
  it.skipIf(mismatch)("rebuilds from the sources to the same bytes", async () => {
    const out = mkdtempSync(join(tmpdir(), "nix-deploy-rebundle-"));
    try {
      await buildBundle(out);
      const files = (dir: string) => readdirSync(dir).sort();
      expect(files(out)).toEqual(files(join(ROOT, "bundle")));
      for (const file of files(out))
        expect(readFileSync(join(out, file)).equals(readFileSync(join(ROOT, "bundle", file))), file).toBe(
          true,
        );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("is what the plugin and the npm package start", () => {
    const mcp = JSON.parse(readFileSync(join(ROOT, ".mcp.json"), "utf8"));
    expect(mcp.mcpServers["nix-deploy"].args).toEqual(["${CLAUDE_PLUGIN_ROOT}/bundle/nix-deploy-mcp.js"]);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.bin).toEqual({
      "nix-deploy": "bundle/nix-deploy.js",
      "nix-deploy-mcp": "bundle/nix-deploy-mcp.js",
    });
    for (const file of [BUNDLE_ENTRY, join(ROOT, "bundle", "nix-deploy.js")])
      expect(readFileSync(file, "utf8").startsWith("#!/usr/bin/env node\n"), file).toBe(true);
  });
});

describe("the bundled server, over stdio", () => {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-bundle-test-"));
  const flake = join(dir, "flake");
  const state = join(dir, "state");
  const plugin = pluginCopy(join(dir, "plugin"));
  let bundled: StdioServer;
  let built: StdioServer;
  let fake: FakeGithub;
  let scratch: ReturnType<typeof scratchFlake>;

  beforeAll(async () => {
    // A flake of three files in git: one valid, one broken, one nested deeper than the main
    // thread's stack, which the analysis parses on a worker thread (bundle/deep-worker.js).
    mkdirSync(flake);
    writeFileSync(join(flake, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(flake, "broken.nix"), "{ a = 1 }\n");
    writeFileSync(join(flake, "deep.nix"), `x: ${"(".repeat(3000)}x${")".repeat(3000)}\n`);
    for (const args of [
      ["init", "-q"],
      ["add", "-A"],
    ])
      await execa("git", args, { cwd: flake });
    const env = { XDG_STATE_HOME: state, LOG_LEVEL: "info" };
    bundled = await connectStdio(["--flake", flake], env, { entry: plugin.entry });
    built = await connectStdio(["--flake", flake], env);
    fake = await startFakeGithub();
    scratch = scratchFlake();
  });
  afterAll(async () => {
    await bundled?.close();
    await built?.close();
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (scratch) rmSync(scratch.root, { recursive: true, force: true });
  });

  it("offers exactly the tools, prompts and resources of the sources' build", async () => {
    for (const list of ["listTools", "listPrompts", "listResourceTemplates"] as const)
      expect(await bundled.client[list](), list).toEqual(await built.client[list]());
    expect(bundled.client.getServerVersion()).toEqual(built.client.getServerVersion());
  });

  it("validates a flake: git lists its files, the parser reads them, the deep one on a worker thread", async () => {
    const result = await bundled.client.callTool({ name: "validate_syntax", arguments: {} });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      filesChecked: 3,
      errorCount: 1,
      errors: [expect.objectContaining({ file: "broken.nix", line: 1 })],
    });
    // Its log file, through the bundled pino.
    const logs = readdirSync(join(state, "nix-deploy", "logs"));
    expect(logs.length).toBeGreaterThan(0);
  });

  it("checks nixpkgs issues with the bundled octokit, against a fake GitHub", async () => {
    const server = await connectStdio(
      ["--flake", scratch.flake],
      { NIX_DEPLOY_GITHUB_API: fake.url, XDG_STATE_HOME: scratch.state },
      { entry: plugin.entry },
    );
    try {
      const result = await server.client.callTool({
        name: "check_nixpkgs_issues",
        arguments: { packages: CHANGING, newLockDate: "2026-11-20" },
      });
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ status: "ok", verdict: { verdict: "block" } });
    } finally {
      await server.close();
    }
  });

  it("the bundled CLI answers --help and renders a report from templates/report.md", async () => {
    const help = await execa(process.execPath, [plugin.cli, "--help"], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^ {2}deploy /m);
    new DeploymentStore({ XDG_STATE_HOME: state }).save({
      id: "20250101-100000-cccccc",
      pid: process.pid,
      createdAt: "2025-01-01T10:00:00.000Z",
      updatedAt: "2025-01-01T10:00:05.000Z",
      status: "succeeded",
      request: {
        flake,
        selectors: ["p620"],
        mode: "fast",
        goal: "switch",
        dryRun: false,
        confirmTimeoutSec: 30,
      },
      hosts: { p620: { outcome: "deployed", phases: [], generationBefore: 1, generationAfter: 2 } },
    });
    const report = await execa(process.execPath, [plugin.cli, "report", "--flake", flake], {
      env: { XDG_STATE_HOME: state },
      reject: false,
    });
    expect(report.exitCode, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/^# Deployment report: /);
    expect(report.stdout).toContain("## p620: ✅ deployed");
  });
});

// Claude Code itself, where it is installed (an npm package that needs Node 22, so not one of our
// dependencies; CLAUDE_BIN names it): the plugin installed from its marketplace, as a person does,
// and `claude mcp list`, which starts the server and reports whether it connects.
const claude = process.env.CLAUDE_BIN ?? "claude";
const hasClaude = spawnSync(claude, ["--version"], { stdio: "ignore" }).status === 0;
if (!hasClaude)
  console.warn(`skipping the Claude Code install test: no ${claude} (set CLAUDE_BIN to its path)`);

describe.skipIf(!hasClaude)("the plugin installed by Claude Code from a copy of the repository", () => {
  it("connects: claude mcp list starts the bundled server", () => {
    const dir = mkdtempSync(join(tmpdir(), "nix-deploy-claude-"));
    try {
      pluginCopy(join(dir, "plugin"));
      mkdirSync(join(dir, "home"));
      mkdirSync(join(dir, "project"));
      const run = (args: string[]) =>
        spawnSync(claude, args, {
          cwd: join(dir, "project"),
          encoding: "utf8",
          env: { ...process.env, HOME: join(dir, "home") },
          timeout: 120_000,
        });
      const added = run(["plugin", "marketplace", "add", join(dir, "plugin")]);
      expect(added.status, `${added.stdout}${added.stderr}`).toBe(0);
      const installed = run(["plugin", "install", "nix-deploy@nix-deploy"]);
      expect(installed.status, `${installed.stdout}${installed.stderr}`).toBe(0);
      const listed = run(["mcp", "list"]);
      expect(listed.stdout).toMatch(
        /^plugin:nix-deploy:nix-deploy: .*bundle\/nix-deploy-mcp\.js - ✔ Connected$/m,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
