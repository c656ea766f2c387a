/**
 * The npm package as a person installs it: `npm pack`, then `npm install` of the tarball into an
 * empty directory (offline, from npm's cache; engine-strict, so a dependency that refuses this Node
 * fails here), then the bins `nix-deploy-mcp` (through npx, over stdio with a real MCP client) and
 * `nix-deploy`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tools } from "../../src/tools/index.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("the npm package", () => {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-pack-"));
  const app = join(dir, "app");
  const flake = join(dir, "flake");
  let packed: string[] = [];

  beforeAll(async () => {
    // prepack checks that bundle/ is built from the sources (npm run bundle -- --check).
    const pack = await execa("npm", ["pack", "--json", "--pack-destination", dir], { cwd: ROOT });
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packed = info?.files.map((f) => f.path) ?? [];
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
    await execa(
      "npm",
      ["install", "--offline", "--engine-strict", "--no-audit", "--no-fund", join(dir, info?.filename ?? "")],
      { cwd: app },
    );
    mkdirSync(flake);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("holds the bundled server and CLI with what they read at run time, and no sources or tests", () => {
    for (const file of [
      "package.json",
      "bundle/nix-deploy-mcp.js",
      "bundle/nix-deploy.js",
      "bundle/deep-worker.js",
      "templates/report.md",
      ".mcp.json",
      ".claude-plugin/plugin.json",
      "commands/nix-deploy.md",
    ])
      expect(packed).toContain(file);
    expect(packed.filter((f) => /^(src|test|dist|scripts|bench)\//.test(f))).toEqual([]);
  });

  it("npx nix-deploy-mcp --flake DIR serves MCP over stdio: every tool is listed", async () => {
    const transport = new StdioClientTransport({
      command: "npx",
      args: ["--offline", "nix-deploy-mcp", "--flake", flake],
      cwd: app,
      env: { ...(process.env as Record<string, string>), XDG_STATE_HOME: join(dir, "state") },
      stderr: "pipe",
    });
    const client = new Client({ name: "nix-deploy-pack-test", version: "0.0.0" });
    await client.connect(transport);
    try {
      const listed = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(listed).toEqual(tools.map((t) => t.name).sort());
      expect(client.getServerVersion()?.name).toBe("nix-deploy");
    } finally {
      await client.close();
    }
  });

  it("the bins answer --help", () => {
    const mcp = spawnSync(join(app, "node_modules", ".bin", "nix-deploy-mcp"), ["--help"], {
      encoding: "utf8",
    });
    expect(mcp.status).toBe(0);
    expect(mcp.stderr).toContain("nix-deploy-mcp [--flake PATH]");
    const cli = spawnSync(join(app, "node_modules", ".bin", "nix-deploy"), ["--help"], { encoding: "utf8" });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/^ {2}deploy /m);
  });
});
