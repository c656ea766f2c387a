/**
 * Attacks on the built server through its tools, as an assistant steered by hostile text would make
 * them: each must fail without running anything. No fleet is needed: every refusal comes before a
 * host or Nix is contacted.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectStdio, type StdioServer, textOf } from "./client.js";

const FLAKE_NIX = "{ outputs = { self }: { }; }\n";

describe("the server refuses what its user did not start it with", () => {
  let dir: string;
  let served: string;
  let attacker: string;
  let marker: string;
  let server: StdioServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "nix-deploy-attack-"));
    served = join(dir, "fleet");
    attacker = join(dir, "attacker");
    marker = join(dir, "pwned");
    for (const flake of [served, attacker]) {
      mkdirSync(flake);
      writeFileSync(join(flake, "flake.nix"), FLAKE_NIX);
    }
    // The attacker's directory brings an inventory whose ssh option runs a command.
    writeFileSync(
      join(attacker, "nix-deploy.json"),
      JSON.stringify({
        hosts: { victim: { target: "root@127.0.0.1", sshOptions: [`ProxyCommand=touch ${marker}`] } },
      }),
    );
    writeFileSync(join(attacker, "env.nix"), "{ x = 1; }\n");
    server = await connectStdio(["--flake", served], { XDG_STATE_HOME: join(dir, "state") });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a tool call that names another flake, and runs nothing from its inventory", async () => {
    for (const [name, args] of [
      ["fleet_list", { flake: attacker, probe: true }],
      ["host_status", { flake: attacker, host: "victim" }],
      ["validate_syntax", { flake: attacker }],
      ["scan_antipatterns", { flake: attacker, fix: true }],
      ["deploy", { flake: attacker, hosts: ["victim"], mode: "emergency" }],
      ["upload_keys", { flake: attacker, hosts: ["victim"] }],
    ] as const) {
      const result = await server.client.callTool({ name, arguments: args });
      expect(result.isError, name).toBe(true);
      expect(textOf(result), name).toContain(`the flake ${attacker} is not one this server serves`);
      expect(textOf(result), name).toContain(`it serves ${served}`);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses an inventory of its own flake whose ssh options run commands, naming the field", async () => {
    const own = await connectStdio(["--flake", attacker], { XDG_STATE_HOME: join(dir, "state") });
    try {
      const result = await own.client.callTool({ name: "fleet_list", arguments: { probe: true } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /hosts\.victim\.sshOptions\.0: the ssh option ProxyCommand is not allowed/,
      );
      expect(existsSync(marker)).toBe(false);
    } finally {
      await own.close();
    }
  });

  it("serves a second flake only when its user allowed it at start", async () => {
    const allowed = await connectStdio(["--flake", served, "--allow-flake", attacker], {
      XDG_STATE_HOME: join(dir, "state"),
    });
    try {
      const result = await allowed.client.callTool({
        name: "validate_syntax",
        arguments: { flake: attacker },
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ flake: attacker, errorCount: 0, filesChecked: 2 });
    } finally {
      await allowed.close();
    }
  });
});
