/**
 * Prompt arguments complete through MCP `completion/complete`, asked by a real client of the built
 * server over stdio: host names, `@tags` and `all` from a flake (its nixosConfigurations, evaluated
 * by real Nix, and its inventory), and whole `/nix-deploy` requests with their modes.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectStdio, type StdioServer } from "./client.js";

const hasNix = spawnSync("nix", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasNix && process.env.CI === "true")
  throw new Error("CI must run the completion tests, but nix is missing");
if (!hasNix) console.warn("skipping the completion tests: nix is missing (apt-get install nix-bin)");

describe.skipIf(!hasNix)("prompt argument completion", () => {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-complete-"));
  const flake = join(dir, "flake");
  let server: StdioServer;

  beforeAll(async () => {
    mkdirSync(flake);
    // Host names come from attrNames, so the configurations need not evaluate further.
    writeFileSync(
      join(flake, "flake.nix"),
      "{ outputs = _: { nixosConfigurations = { p620 = { }; p510 = { }; razer = { }; }; }; }\n",
    );
    // An inventory adds tags and a host only it names.
    writeFileSync(
      join(flake, "nix-deploy.json"),
      JSON.stringify({
        hosts: {
          p620: { tags: ["workstation", "server"] },
          p510: { tags: ["server"] },
          samsung: { tags: ["laptop"] },
        },
      }),
    );
    writeFileSync(join(dir, "registry.json"), JSON.stringify({ flakes: [], version: 2 }));
    server = await connectStdio(["--flake", flake], {
      NIX_CONFIG: `experimental-features = nix-command flakes\nsubstituters =\nflake-registry = ${join(dir, "registry.json")}`,
      NIX_REMOTE: "local",
      XDG_STATE_HOME: join(dir, "state"),
    });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const complete = async (prompt: string, argument: string, value: string) =>
    (
      await server.client.complete({
        ref: { type: "ref/prompt", name: prompt },
        argument: { name: argument, value },
      })
    ).completion.values;

  it("declares completions, and completes a mode prompt's host: hosts, @tags and all", async () => {
    expect(server.client.getServerCapabilities()?.completions).toBeDefined();
    expect(await complete("deploy", "host", "")).toEqual([
      "all",
      "p510",
      "p620",
      "razer",
      "samsung",
      "@laptop",
      "@server",
      "@workstation",
    ]);
    expect(await complete("fast-deploy", "host", "p")).toEqual(["p510", "p620"]);
    expect(await complete("smart-update", "host", "@s")).toEqual(["@server"]);
    expect(await complete("emergency-deploy", "host", "nosuch")).toEqual([]);
  });

  it("completes /nix-deploy requests: the forms with their modes, then the hosts", async () => {
    expect(await complete("nix-deploy", "request", "Fast")).toEqual([
      "Fast deploy to all",
      "Fast deploy to p510",
      "Fast deploy to p620",
      "Fast deploy to razer",
      "Fast deploy to samsung",
      "Fast deploy to @laptop",
      "Fast deploy to @server",
      "Fast deploy to @workstation",
    ]);
    expect(await complete("nix-deploy", "request", "smart update r")).toEqual(["smart update razer"]);
    expect(await complete("nix-deploy", "request", "Deploy to p620, p")).toEqual(["Deploy to p620, p510"]);
    expect(await complete("nix-deploy", "request", "Update")).toEqual(
      expect.arrayContaining(["Update workflow for p620", "Update system", "Update flake"]),
    );
    // Each completed request is one the prompt then carries out.
    const prompt = await server.client.getPrompt({
      name: "nix-deploy",
      arguments: { request: "Deploy to p620, p510" },
    });
    expect((prompt.messages[0]?.content as { text: string }).text).toContain("hosts: p620, p510");
  });
});
