import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { discoverFleet, selectHosts } from "../../src/engine/fleet/hosts.js";
import { hostStatus } from "../../src/engine/fleet/status.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { HOSTILE } from "../support/hostile.js";

const skip = skipFleetReason();
const PWNED = "/tmp/nix-deploy-pwned";

describe.skipIf(skip)("the remote runner against a real sshd", () => {
  let fleet: SimFleet;
  let engine: Engine;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: ["p620"] });
    engine = createEngine({ flake: fleet.flakeDir, env: { ...process.env, ...fleet.env }, logFile: false });
    rmSync(PWNED, { force: true });
  });
  afterAll(async () => {
    await engine?.close();
    await fleet?.stop();
  });

  const p620 = async () => {
    const [host] = selectHosts(await discoverFleet(engine), ["p620"]);
    if (!host) throw new Error("p620 is not in the fleet");
    return host;
  };

  it("delivers hostile arguments to the remote program unchanged, multiplexed or not", async () => {
    const host = await p620();
    for (const multiplex of [true, false]) {
      const result = await engine.remote.run(host.ssh, ["printf", "%s\\0", ...HOSTILE], { multiplex });
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split("\0").slice(0, -1)).toEqual(HOSTILE);
    }
    expect(existsSync(PWNED)).toBe(false);
  });

  it("keeps exit codes and stderr of remote commands", async () => {
    const host = await p620();
    const result = await engine.remote.run(host.ssh, ["sh", "-c", "echo to-stderr >&2; exit 7"]);
    expect(result).toMatchObject({ exitCode: 7, stderr: "to-stderr\n", connectionFailed: false });
  });

  it("never runs a hostile profile path from the inventory", async () => {
    const inventoryPath = join(fleet.flakeDir, "nix-deploy.json");
    const original = readFileSync(inventoryPath, "utf8");
    const inventory = JSON.parse(original);
    inventory.hosts.p620.profile = `/nix/var/nix/profiles/system$(touch ${PWNED})'; touch ${PWNED}; '\`touch ${PWNED}\``;
    writeFileSync(inventoryPath, JSON.stringify(inventory));
    try {
      const status = await hostStatus(engine, await p620());
      expect(status.reachable).toBe(true);
      expect(status.generations).toEqual([]);
      expect(existsSync(PWNED)).toBe(false);
    } finally {
      writeFileSync(inventoryPath, original);
    }
  });

  it("holds a conversation over the master: output as it comes, input later, hostile words intact", async () => {
    const host = await p620();
    const running = engine.remote.start(host.ssh, [
      "sh",
      "-c",
      'printf "%s\\0" "$@"; echo; echo "@@ready"; read -r line; echo "got $line"',
      "talk",
      ...HOSTILE,
    ]);
    const before = await running.untilLine("@@ready");
    expect(before?.split("\0").slice(0, -1)).toEqual(HOSTILE);
    running.write("hello\n");
    running.end();
    const result = await running.result;
    expect(result).toMatchObject({ exitCode: 0, connectionFailed: false });
    expect(result.stdout.endsWith("@@ready\ngot hello\n")).toBe(true);
    expect(existsSync(PWNED)).toBe(false);
  });

  it("ends its ControlMaster connections on close", async () => {
    const host = await p620();
    await engine.remote.run(host.ssh, ["true"]);
    const controlDir = fleet.env.NIX_DEPLOY_SSH_CONTROL_DIR as string;
    expect(readdirSync(controlDir).length).toBeGreaterThan(0);
    await engine.remote.close();
    expect(readdirSync(controlDir)).toEqual([]);
  });
});
