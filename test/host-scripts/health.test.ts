/** health.sh run locally, with a stand-in systemctl; the resources are this machine's. */
import { beforeEach, describe, expect, it } from "vitest";
import { splitSections } from "../../src/engine/fleet/status.js";
import { sandboxPerTest } from "./run.js";

describe("health.sh", () => {
  const box = sandboxPerTest();
  beforeEach(() => {
    box.stub(
      "systemctl",
      `case "$1" in
  --failed) echo "postgresql.service loaded failed failed PostgreSQL" ;;
  is-system-running) echo degraded; exit 1 ;;
  is-active) [ "$2" = nginx ] && { echo active; exit 0; }; [ "$2" = postgresql ] && { echo failed; exit 3; }; echo inactive; exit 3 ;;
esac`,
    );
  });

  it("reports failed units, the system state, each critical service's state, memory, disk, load, cpus", () => {
    const result = box.run("health", "nix-deploy-health", ["nginx", "postgresql", "absent"]);
    expect(result.status).toBe(0);
    const sections = splitSections(result.stdout);
    expect(sections.get("failed")).toEqual(["postgresql.service loaded failed failed PostgreSQL"]);
    expect(sections.get("state")).toEqual(["degraded"]);
    expect(sections.get("critical")).toEqual(["nginx active", "postgresql failed", "absent inactive"]);
    expect(sections.get("meminfo")?.map((l) => l.split(":")[0])).toEqual(["MemTotal", "MemAvailable"]);
    expect(sections.get("load")?.[0]).toMatch(/^\d+\.\d+ /);
    expect(Number(sections.get("cpus")?.[0])).toBeGreaterThan(0);
  });

  it("no critical services: an empty section", () => {
    const sections = splitSections(box.run("health", "nix-deploy-health").stdout);
    expect(sections.get("critical")).toEqual([]);
  });
});
