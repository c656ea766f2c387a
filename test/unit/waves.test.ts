import { describe, expect, it } from "vitest";
import { batchHosts, planWaves, rolloutOf } from "../../src/engine/deploy/waves.js";
import type { Fleet, Host } from "../../src/engine/fleet/hosts.js";

const host = (name: string, tags: string[] = []): Host => ({
  name,
  inFlake: true,
  inInventory: true,
  ssh: { destination: `root@${name}`, options: [] },
  profile: "/nix/var/nix/profiles/system",
  tags,
  criticalServices: [],
  keys: [],
  local: false,
  user: "root",
  sudo: [],
});

const hosts = [host("a", ["web"]), host("b", ["web"]), host("c"), host("d"), host("e"), host("f"), host("g")];
const fleet: Fleet = { flake: "/flake", hosts, warnings: [] };
const waves = (input: Record<string, unknown>, selected = hosts) =>
  planWaves(fleet, selected, rolloutOf(input)).map((w) => `${w.name}: ${w.hosts.join(" ")}`);

describe("rollout waves", () => {
  it("deploys every host in one wave by default", () => {
    expect(waves({})).toEqual(["all: a b c d e f g"]);
  });

  it("puts the first host, or the named canary hosts or tag, before the rest", () => {
    expect(waves({ strategy: "canary" })).toEqual(["canary: a", "rest: b c d e f g"]);
    expect(waves({ strategy: "canary", canary: ["@web"] })).toEqual(["canary: a b", "rest: c d e f g"]);
    expect(waves({ strategy: "canary", canary: ["d"] })).toEqual(["canary: d", "rest: a b c e f g"]);
  });

  it("cuts batches by count or by percentage, rounding up, 25% by default", () => {
    expect(waves({ strategy: "batches", batchSize: "3" })).toEqual([
      "batch 1 of 3: a b c",
      "batch 2 of 3: d e f",
      "batch 3 of 3: g",
    ]);
    expect(waves({ strategy: "batches" })).toEqual([
      "batch 1 of 4: a b",
      "batch 2 of 4: c d",
      "batch 3 of 4: e f",
      "batch 4 of 4: g",
    ]);
    expect(batchHosts("50%", 7)).toBe(4);
    expect(batchHosts("1%", 7)).toBe(1);
    expect(() => batchHosts("150%", 7)).toThrow(/batchSize 150% is not a number of hosts or a percentage/);
  });

  it("refuses a canary outside the deployment, or one that is the whole deployment", () => {
    expect(() => waves({ strategy: "canary", canary: ["e"] }, hosts.slice(0, 3))).toThrow(
      /the canary e is not among the hosts being deployed/,
    );
    expect(() => waves({ strategy: "canary", canary: ["@web"] }, hosts.slice(0, 2))).toThrow(
      /the canary is every host being deployed/,
    );
    expect(() => waves({ strategy: "canary", canary: ["zz"] })).toThrow(/unknown host "zz"/);
  });

  it("refuses a field that belongs to another strategy instead of ignoring it", () => {
    expect(() => rolloutOf({ canary: ["a"] })).toThrow(/the strategy is parallel/);
    expect(() => rolloutOf({ strategy: "canary", batchSize: "2" })).toThrow(/batchSize sizes the waves/);
    expect(() => rolloutOf({ onFailure: "rollback" })).toThrow(/a parallel deployment has a single wave/);
    expect(rolloutOf({ strategy: "batches", onFailure: "rollback" })).toMatchObject({
      onFailure: "rollback",
    });
  });
});
