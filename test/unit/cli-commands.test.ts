import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GLOBAL_OPTIONS } from "../../src/cli/command.js";
import { commands } from "../../src/cli/commands/index.js";
import { completionCandidates } from "../../src/cli/completion.js";
import { cliVocabulary } from "../../src/cli/vocabulary.js";
import { tools } from "../../src/tools/index.js";

/** What a tool declares: its contract, and the one engine operation it adapts. */
const TOOL_KEYS = ["annotations", "description", "input", "name", "operation", "output", "title"];

describe("one calling convention", () => {
  const adapted = [...tools, ...commands.map((c) => c.tool).filter((tool) => !tools.includes(tool))];

  it.each(adapted.map((tool) => [tool.name, tool] as const))(
    "%s declares its contract and one operation, nothing that runs in its place",
    async (_name, tool) => {
      expect(Object.keys(tool).sort()).toEqual(TOOL_KEYS);
      // The operation is the engine's `(engine, input, hooks)`: the hooks may default, not the input.
      const operation = await tool.operation();
      expect(typeof operation).toBe("function");
      expect(operation.length).toBeGreaterThanOrEqual(2);
      expect(operation.length).toBeLessThanOrEqual(3);
    },
  );

  it("every tool file is the same declaration: an input, an output, annotations and a lazily loaded operation", () => {
    const dir = join(import.meta.dirname, "..", "..", "src", "tools");
    for (const file of readdirSync(dir)) {
      if (file === "define.ts" || file === "index.ts") continue;
      const text = readFileSync(join(dir, file), "utf8");
      expect(
        text.match(/^ {2}operation: async \(\) => \(await import\("[^"]+"\)\)\.\w+,$/gm),
        file,
      ).toHaveLength(1);
      // Any engine module the file imports statically is for schemas, never the operation itself.
      expect(text, file).not.toMatch(/\brun\s*[:(]/);
    }
  });

  it("the MCP server and the CLI both call a tool through runTool, with hooks of one type", () => {
    const src = join(import.meta.dirname, "..", "..", "src");
    for (const caller of ["tools/define.ts", "cli/main.ts"])
      expect(readFileSync(join(src, caller), "utf8"), caller).toMatch(
        /await runTool\((tool|cmd\.tool), engine, input, /,
      );
  });

  it("every command adapts a tool: its input parsed from flags, its result rendered, nothing run on the side", () => {
    for (const cmd of commands) {
      expect(
        Object.keys(cmd)
          .filter((key) => !["confirm", "positionals"].includes(key))
          .sort(),
        cmd.name,
      ).toEqual(["exitCode", "input", "name", "options", "render", "summary", "synopsis", "tool"]);
    }
  });
});

describe("the CLI's commands", () => {
  it("cover every tool but plan (which turns a sentence into calls; a person types the command)", () => {
    const adapted = new Set(commands.map((c) => c.tool.name));
    expect(tools.map((t) => t.name).filter((name) => !adapted.has(name))).toEqual(["plan"]);
  });

  it.each(commands.map((c) => [c.name, c] as const))(
    "%s: each flag fills a field the tool has",
    (_name, cmd) => {
      for (const [flag, spec] of Object.entries(cmd.options)) {
        if (spec.field === undefined) continue;
        expect(Object.keys(cmd.tool.input), `--${flag} → ${spec.field}`).toContain(spec.field);
      }
    },
  );
});

describe("the CLI speaks CLI", () => {
  const say = cliVocabulary(commands);

  it("turns the engine's tool and field names into commands and flags", () => {
    expect(
      say('hosts that failed are on their previous generation (resume with resume: "20261202-a1")'),
    ).toBe("hosts that failed are on their previous generation (resume with --resume 20261202-a1)");
    expect(say("review the changes, then deploy without dryRun")).toBe(
      "review the changes, then deploy without --dry-run",
    );
    expect(say("nothing to do; host_status shows each host's generations")).toBe(
      "nothing to do; nix-deploy status shows each host's generations",
    );
    expect(say("call smart_update again with confirm: true.")).toBe(
      "call nix-deploy smart-update again with --yes.",
    );
    expect(say("restore_lock (backup 3, redeploy: true) returns to the previous lock")).toBe(
      "nix-deploy restore-lock (backup 3, --redeploy) returns to the previous lock",
    );
    expect(say("5 auto-fixable (fix: true)")).toBe("5 auto-fixable (--fix)");
    expect(say("use a larger confirmTimeoutSec")).toBe("use a larger --confirm-timeout");
  });

  it("leaves plain words alone", () => {
    for (const text of [
      "deploy again in standard mode to all hosts",
      "the goal was switch; the inputs moved",
      "deployed p620 and rolled back razer",
      // An inventory field's path in an error is the inventory's word, not a flag.
      'hosts.a.cache: the cache "https://x" is refused',
      "defaults.signingKey: expected string",
    ])
      expect(say(text)).toBe(text);
  });

  it("has no flag whose field another flag names differently", () => {
    const seen = new Map<string, string>();
    for (const options of [GLOBAL_OPTIONS, ...commands.map((c) => c.options)])
      for (const [flag, spec] of Object.entries(options)) {
        if (!spec.field) continue;
        expect(seen.get(spec.field) ?? flag, spec.field).toBe(flag);
        seen.set(spec.field, flag);
      }
  });
});

describe("completion candidates", () => {
  it("complete commands, their flags and fixed values without touching a flake", async () => {
    expect(await completionCandidates(["de"], commands)).toEqual(["deploy"]);
    expect(await completionCandidates(["sm"], commands)).toEqual(["smart-update"]);
    expect(await completionCandidates(["deploy", "--mo"], commands)).toEqual(["--mode"]);
    expect(await completionCandidates(["deploy", "--mode", ""], commands)).toEqual([
      "standard",
      "fast",
      "emergency",
    ]);
    expect(await completionCandidates(["deploy", "--goal", "d"], commands)).toEqual(["dry-activate"]);
    expect(await completionCandidates(["--js"], commands)).toEqual(["--json"]);
  });
});
