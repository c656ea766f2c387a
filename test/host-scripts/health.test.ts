/** health.sh run locally, with a stand-in systemctl; the resources are this machine's. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { parseResources } from "../../src/engine/deploy/health.js";
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
  is-active)
    # As systemctl does: one line per unit, in order; 3 unless all are active.
    shift; rc=0
    for unit; do
      case "$unit" in nginx) echo active ;; postgresql) echo failed; rc=3 ;; *) echo inactive; rc=3 ;; esac
    done
    exit $rc ;;
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
    const resources = parseResources(sections);
    expect(resources.cpus).toBeGreaterThanOrEqual(1);
    expect(resources.nixDiskFreeBytes ?? 1).toBeGreaterThan(0);
  });

  it("--resources: the resource sections alone, no unit asked about", () => {
    const sections = splitSections(box.run("health", "nix-deploy-health", ["--resources"]).stdout);
    expect([...sections.keys()]).toEqual(["meminfo", "disk", "load", "cpus"]);
    expect(parseResources(sections).memAvailableBytes).toBeGreaterThan(0);
  });

  it("a running system: its failed units are not listed (systemd has none then), one systemctl fewer", () => {
    box.stub(
      "systemctl",
      `echo "$*" >> "${box.dir}/systemctl.calls"
case "$1" in
  --failed) echo "never.service loaded failed failed asked for" ;;
  is-system-running) echo running ;;
  is-active) echo active ;;
esac`,
    );
    const sections = splitSections(box.run("health", "nix-deploy-health", ["sshd"]).stdout);
    expect(sections.get("state")).toEqual(["running"]);
    expect(sections.get("failed")).toEqual([]);
    expect(readFileSync(join(box.dir, "systemctl.calls"), "utf8")).toBe(
      "is-system-running\nis-active sshd\n",
    );
  });

  it("no critical services: an empty section", () => {
    const sections = splitSections(box.run("health", "nix-deploy-health").stdout);
    expect(sections.get("critical")).toEqual([]);
  });
});
