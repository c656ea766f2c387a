/**
 * `npm run fleet`: the simulated four-host fleet (test/fleet/harness.ts), kept up until Ctrl-C, to try
 * the CLI and the MCP server on by hand. It writes two wrappers into the fleet's directory that carry
 * the environment the fleet needs (its Nix settings, state directory, ssh keys, a fake GitHub with
 * recorded answers) and run the bundled CLI and server:
 *
 *   export PATH=<fleet>/bin:$PATH                           then the README's lines: nix-deploy fleet, ...
 *   claude mcp add nix-deploy-fleet -- <fleet>/bin/nix-deploy-mcp
 *
 * Ctrl-C (or SIGTERM) stops every process the fleet started, by its pid, and deletes its directory.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FLEET_HOSTS, fleetUnavailableReason, type SimFleet, startFleet } from "../test/fleet/harness.js";
import { type FakeGithub, startFakeGithub } from "../test/support/fake-github.js";

const ROOT = join(import.meta.dirname, "..");
const say = (line = "") => process.stdout.write(`${line}\n`);
const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** A shell script that runs `node ENTRY` with the fleet's environment, the person's PATH kept. */
function wrapper(file: string, entry: string, env: Record<string, string>): void {
  const exports = Object.entries(env).map(([name, value]) => `export ${name}=${quote(value)}`);
  writeFileSync(
    file,
    [
      "#!/bin/sh",
      "# Written by npm run fleet: the simulated fleet's environment.",
      ...exports,
      `exec ${quote(process.execPath)} ${quote(entry)} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(file, 0o755);
}

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stderr.write(`npm run fleet: ${unavailable}\n`);
    process.exit(1);
  }
  say(`Starting the simulated fleet (${FLEET_HOSTS.join(", ")})...`);
  let fleet: SimFleet | undefined;
  let github: FakeGithub | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say("\nStopping the fleet...");
    await github?.stop();
    await fleet?.stop();
    say("Fleet stopped; every process it started is gone.");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    fleet = await startFleet();
    github = await startFakeGithub();
  } catch (error) {
    process.stderr.write(`npm run fleet: ${error instanceof Error ? error.message : String(error)}\n`);
    await stop(1);
    return;
  }
  const env = {
    ...fleet.env,
    NIX_DEPLOY_FLAKE: fleet.flakeDir,
    // Recorded GitHub answers (test/samples/github) instead of api.github.com: the issue check works
    // offline, and `nix-deploy issues systemd@256.7..256.8 firefox` finds known issues.
    NIX_DEPLOY_GITHUB_API: github.url,
  };
  const bin = join(fleet.dir, "bin");
  mkdirSync(bin);
  wrapper(join(bin, "nix-deploy"), join(ROOT, "bundle", "nix-deploy.js"), env);
  wrapper(join(bin, "nix-deploy-mcp"), join(ROOT, "bundle", "nix-deploy-mcp.js"), env);

  say(
    `\nThe fleet is up: ${FLEET_HOSTS.map((name) => `${name} (ssh port ${fleet?.hosts.get(name)?.port})`).join(", ")}.`,
  );
  say(`Its flake: ${fleet.flakeDir} (edit hosts/*.nix and commit, then deploy).`);
  say(
    "\nThe CLI, in another terminal (then the README's lines: nix-deploy fleet, nix-deploy deploy p620, ...):",
  );
  say(`  export PATH=${bin}:$PATH`);
  say("\nThe MCP server, for Claude Code:");
  say(`  claude mcp add nix-deploy-fleet -- ${join(bin, "nix-deploy-mcp")}`);
  say("\nCtrl-C stops the fleet.");
  // Until a signal: the sshd hosts are child processes, the event loop has nothing else to wait for.
  setInterval(() => {}, 1 << 30);
}

void main();
