import { readdirSync, readFileSync } from "node:fs";
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

describe("the Claude Code plugin", () => {
  it("ships the nix-deploy, nix-status and nix-rollback commands", () => {
    expect(commandFiles.sort()).toEqual(
      expect.arrayContaining(["nix-deploy.md", "nix-rollback.md", "nix-status.md"]),
    );
  });

  it.each(commandFiles)(
    "%s: frontmatter parses and allowed-tools names only tools the server has",
    (file) => {
      const { data, body } = frontmatter(file);
      const allowed = data["allowed-tools"].split(",").map((t) => t.trim());
      expect(allowed.length).toBeGreaterThan(0);
      for (const entry of allowed) {
        const tool = new RegExp(`^mcp__${SERVER}__([a-z_]+)$`).exec(entry)?.[1];
        expect(tool, `${file}: ${entry} is not mcp__${SERVER}__<tool>`).toBeDefined();
        expect(toolNames.has(tool as string), `${file}: no tool ${tool} in src/tools/index.ts`).toBe(true);
      }
      // Each tool the text tells the assistant to call is allowed, so it runs without a permission stop.
      for (const name of toolNames)
        if (new RegExp(`\`${name}\``).test(body))
          expect(allowed, `${file} uses ${name}`).toContain(`mcp__${SERVER}__${name}`);
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
    expect(manifest).toMatchObject({ name: SERVER, version: pkg.version });
    expect(manifest.description.length).toBeGreaterThan(10);
    const marketplace = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "marketplace.json"), "utf8"));
    expect(marketplace.plugins).toEqual([expect.objectContaining({ name: SERVER, source: "./" })]);
    const mcp = JSON.parse(readFileSync(join(ROOT, ".mcp.json"), "utf8"));
    expect(Object.keys(mcp.mcpServers)).toEqual([SERVER]);
    expect(mcp.mcpServers[SERVER]).toEqual({
      command: "node",
      args: ["${CLAUDE_PLUGIN_ROOT}/dist/index.js"],
    });
    expect(pkg.bin["nix-deploy-mcp"]).toBe("dist/index.js");
  });
});
