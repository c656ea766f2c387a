import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type DeploymentRecord, DeploymentStore } from "../../src/engine/deploy/record.js";

const record = (
  id: string,
  flake: string,
  createdAt: string,
  status: DeploymentRecord["status"],
): DeploymentRecord => ({
  id,
  // A pid that is not alive: the deployment was interrupted.
  pid: 2 ** 22 + 1,
  createdAt,
  updatedAt: createdAt,
  status,
  request: { flake, selectors: ["all"], mode: "fast", goal: "switch", dryRun: false, confirmTimeoutSec: 30 },
  hosts: {},
});

describe("the deployment store", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("resumes this flake's latest unfinished deployment, never another flake's", () => {
    const state = mkdtempSync(join(tmpdir(), "nix-deploy-record-"));
    dirs.push(state);
    const store = new DeploymentStore({ XDG_STATE_HOME: state });
    store.save(record("20261201-100000-aaaaaa", "/srv/ours", "2026-12-01T10:00:00Z", "failed"));
    store.save(record("20261201-110000-bbbbbb", "/srv/theirs", "2026-12-01T11:00:00Z", "failed"));
    expect(store.resumable("latest", "/srv/ours").id).toBe("20261201-100000-aaaaaa");
    expect(() => store.resumable("latest", "/srv/none")).toThrow("no unfinished deployment to resume");
  });
});
