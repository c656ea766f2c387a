import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { makePlan } from "../../src/engine/plan.js";
import { testEnv } from "../fleet/harness.js";

const hasNix = spawnSync("nix", ["--version"]).status === 0;

/** A flake with `count` hosts (names only matter: the plan evaluates the host names, not the systems). */
function flakeWithHosts(dir: string, count: number): void {
  const hosts = Array.from({ length: count }, (_, i) => `host${i + 1} = { };`).join(" ");
  writeFileSync(join(dir, "flake.nix"), `{ outputs = { self }: { nixosConfigurations = { ${hosts} }; }; }\n`);
}

describe.skipIf(!hasNix)("plan: rollouts for many hosts", () => {
  let root: string;
  let engine: Engine;
  const flake = (count: number) => {
    const dir = join(root, `fleet-${count}`);
    mkdirSync(dir, { recursive: true });
    flakeWithHosts(dir, count);
    return dir;
  };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "nix-deploy-plan-"));
    engine = createEngine({
      flake: root,
      allowedFlakes: [join(root, "fleet-6"), join(root, "fleet-5")],
      env: { ...process.env, ...testEnv(root), LOG_LEVEL: "warn" },
      logFile: false,
    });
  });
  afterAll(() => {
    engine.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("proposes a canary when more than five hosts would be deployed at once", async () => {
    const plan = await makePlan(engine, { request: "Deploy to all hosts", flake: flake(6) });
    expect(plan.hosts).toHaveLength(6);
    expect(plan.proposals).toEqual([
      expect.stringMatching(
        /^6 hosts: deploy them in waves, e\.g\. deploy with strategy "canary" \(host1 first/,
      ),
    ]);
  });

  it("proposes nothing for five hosts or a dry run", async () => {
    expect(
      (await makePlan(engine, { request: "Deploy to all hosts", flake: flake(5) })).proposals,
    ).toBeUndefined();
  });
});
