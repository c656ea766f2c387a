import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { tools } from "../../src/tools/index.js";

const ROOT = join(import.meta.dirname, "..", "..");
const COMMANDS = join(ROOT, "commands");
const SERVER = "nix-deploy";

/** What Claude Code reads from a command's frontmatter; a typo in a key is an error here. */
const frontmatterSchema = z.strictObject({
  description: z.string().min(10),
  "argument-hint": z.string().min(1),
  "allowed-tools": z.string().min(1),
  "disable-model-invocation": z.boolean().optional(),
});

function frontmatter(file: string): { data: z.infer<typeof frontmatterSchema>; body: string } {
  const text = readFileSync(join(COMMANDS, file), "utf8");
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!match) throw new Error(`${file} has no frontmatter between --- lines`);
  return { data: frontmatterSchema.parse(parse(match[1] as string)), body: match[2] as string };
}

const toolNames = new Set(tools.map((t) => t.name));
const commandFiles = readdirSync(COMMANDS).filter((f) => f.endsWith(".md"));

/**
 * Claude Code names a server's tools by how it was installed: `mcp__nix-deploy__deploy` after
 * `claude mcp add nix-deploy`, `mcp__plugin_nix-deploy_nix-deploy__deploy` when the plugin brings the
 * server. A command must work in both, so it allows both names of each tool it uses.
 */
const PREFIXES = [`mcp__${SERVER}__`, `mcp__plugin_${SERVER}_${SERVER}__`];

describe("the Claude Code plugin", () => {
  it("ships the nix-deploy, nix-status and nix-rollback commands", () => {
    expect(commandFiles.sort()).toEqual(
      expect.arrayContaining(["nix-deploy.md", "nix-rollback.md", "nix-status.md"]),
    );
  });

  it.each(commandFiles)(
    "%s: allowed-tools names each tool the server has, in both installs' names, and each tool the text uses",
    (file) => {
      const { data, body } = frontmatter(file);
      const allowed = data["allowed-tools"].split(",").map((t) => t.trim());
      expect(allowed.length).toBeGreaterThan(0);
      const allowedTools = new Set<string>();
      for (const entry of allowed) {
        const prefix = PREFIXES.find((p) => entry.startsWith(p));
        expect(
          prefix,
          `${file}: ${entry} is none of ${PREFIXES.map((p) => `${p}<tool>`).join(", ")}`,
        ).toBeDefined();
        const tool = entry.slice((prefix as string).length);
        expect(toolNames.has(tool), `${file}: no tool ${tool} in src/tools/index.ts`).toBe(true);
        allowedTools.add(tool);
      }
      for (const tool of allowedTools)
        for (const prefix of PREFIXES)
          expect(allowed, `${file}: ${tool} in both installs`).toContain(prefix + tool);
      // Each tool the text tells the assistant to call is allowed, so it runs without a permission stop.
      for (const name of toolNames)
        if (new RegExp(`\`${name}\``).test(body))
          expect([...allowedTools], `${file} uses ${name}`).toContain(name);
      // The text names tools by their short names and says how both installs prefix them.
      for (const prefix of PREFIXES) expect(body).toContain(prefix);
      expect(body).not.toMatch(/mcp__[\w-]*\*/);
      expect(body).toContain("$ARGUMENTS");
    },
  );

  it("marks the commands that change hosts as user-only", () => {
    for (const file of commandFiles) {
      const { data } = frontmatter(file);
      const changesHosts = /__(deploy|rollback)\b/.test(data["allowed-tools"]);
      expect(data["disable-model-invocation"] === true, file).toBe(changesHosts);
    }
  });

  it("/nix-deploy covers every mode of its argument hint, in pipeline order", () => {
    const { data, body } = frontmatter("nix-deploy.md");
    for (const mode of [
      "Deploy to",
      "Fast deploy",
      "Emergency deploy",
      "all hosts",
      "Preview updates",
      "Smart update",
    ])
      expect(data["argument-hint"]).toContain(mode);
    // plan comes first of all; the standard mode then runs its phases in the plan's order.
    const standard = body.indexOf("**Standard**");
    expect(standard).toBeGreaterThan(body.indexOf("`plan`"));
    const order = [
      "preflight",
      "validate_syntax",
      "scan_antipatterns",
      "security_audit",
      "test_build",
      "deploy",
    ].map((t) => body.indexOf(`\`${t}\``, standard));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("has a manifest and an .mcp.json that starts this server from the plugin root", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "plugin.json"), "utf8"));
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(manifest).toMatchObject({ name: SERVER, version: pkg.version, license: pkg.license });
    expect(manifest.description.length).toBeGreaterThan(10);
    expect(manifest.author.name.length).toBeGreaterThan(0);
    const marketplace = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "marketplace.json"), "utf8"));
    expect(marketplace.plugins).toEqual([expect.objectContaining({ name: SERVER, source: "./" })]);
    const mcp = JSON.parse(readFileSync(join(ROOT, ".mcp.json"), "utf8"));
    expect(Object.keys(mcp.mcpServers)).toEqual([SERVER]);
    // The bundle, committed: a marketplace install copies the repository and runs no build.
    expect(mcp.mcpServers[SERVER]).toEqual({
      command: "node",
      args: ["${CLAUDE_PLUGIN_ROOT}/bundle/nix-deploy-mcp.js"],
    });
    expect(existsSync(join(ROOT, "bundle", "nix-deploy-mcp.js"))).toBe(true);
    expect(pkg.bin["nix-deploy-mcp"]).toBe("bundle/nix-deploy-mcp.js");
  });

  it("has an icon the plugin directory accepts: a square PNG of 512 to 2048 px, under 2 MB", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "plugin.json"), "utf8"));
    expect(manifest.icon).toMatch(/^\.\/.*\.png$/);
    const png = readFileSync(join(ROOT, manifest.icon));
    expect(png.subarray(0, 8).toString("latin1")).toBe("\x89PNG\r\n\x1a\n");
    // IHDR is the first chunk: width and height are its first two big-endian 32-bit fields.
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    expect(width).toBe(height);
    expect(width).toBeGreaterThanOrEqual(512);
    expect(width).toBeLessThanOrEqual(2048);
    expect(png.length).toBeLessThan(2 * 1024 * 1024);
  });

  // Claude Code's own checker, where it is installed (an npm package that needs Node 22, so not one of
  // our dependencies): `claude plugin validate --strict` fails on unknown fields and missing metadata.
  const claude = process.env.CLAUDE_BIN ?? "claude";
  const hasClaude = spawnSync(claude, ["--version"], { stdio: "ignore" }).status === 0;
  if (!hasClaude) console.warn(`skipping claude plugin validate: no ${claude} (set CLAUDE_BIN to its path)`);
  it.skipIf(!hasClaude)("passes claude plugin validate --strict", () => {
    const home = mkdtempSync(join(tmpdir(), "nix-deploy-claude-home-"));
    try {
      const run = spawnSync(claude, ["plugin", "validate", "--strict", ROOT], {
        encoding: "utf8",
        env: { ...process.env, HOME: home },
        timeout: 60_000,
      });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toContain("Validation passed");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
