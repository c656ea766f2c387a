/**
 * changes.sh run locally on two systems made of unit files, with a stand-in `nix store
 * diff-closures`; its output read as the pipeline reads it.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDiffClosures, parseUnitChanges } from "../../src/engine/deploy/changes.js";
import { sandboxPerTest } from "./run.js";

describe("changes.sh", () => {
  const box = sandboxPerTest();
  const system = (name: string, units: Record<string, string>) => {
    const dir = join(box.dir, name, "etc", "systemd", "system");
    mkdirSync(dir, { recursive: true });
    for (const [unit, text] of Object.entries(units)) writeFileSync(join(dir, unit), text);
    return join(box.dir, name);
  };

  it("lists package changes and what happens to each unit, for systems at paths with spaces", () => {
    const old = system("old system", {
      "kept.service": "same",
      "restarted.service": "v1",
      "reloaded.service": "v1",
      "pinned.service": "v1",
      "removed.service": "v1",
    });
    const next = system("new system", {
      "kept.service": "same",
      "restarted.service": "v2",
      "reloaded.service": "v2\nX-ReloadIfChanged=true\n",
      "pinned.service": "v2\nX-RestartIfChanged=false\n",
      "added.service": "v1",
    });
    box.stub(
      "nix",
      `[ "$3 $4" = "store diff-closures" ] && [ "$5" = "${old}" ] && [ "$6" = "${next}" ] || exit 1
echo "nginx: 1.24.0 → 1.25.3, +1.2 MiB"`,
    );
    const result = box.run("changes", "nix-deploy-changes", [old, next]);
    expect(result.status).toBe(0);
    const [packages = "", units = ""] = result.stdout.split("@@units");
    expect(parseDiffClosures(packages.replace("@@packages", ""))).toMatchObject([
      { name: "nginx", oldVersions: ["1.24.0"], newVersions: ["1.25.3"], kind: "upgraded" },
    ]);
    expect(parseUnitChanges(units.split("\n"))).toEqual([
      { unit: "added.service", action: "start" },
      { unit: "pinned.service", action: "changed-no-restart" },
      { unit: "reloaded.service", action: "reload" },
      { unit: "restarted.service", action: "restart" },
      { unit: "removed.service", action: "stop" },
    ]);
  });

  it("units linked as NixOS links them: one store file per unit, shared where unchanged", () => {
    // The store: one file per unit version; each system's unit directory links into it.
    const store = join(box.dir, "store");
    mkdirSync(store);
    const file = (name: string, text: string) => {
      writeFileSync(join(store, name), text);
      return join(store, name);
    };
    const shared = file("sshd-v1", "sshd");
    const oldNginx = file("nginx-v1", "nginx 1");
    const newNginx = file("nginx-v2", "nginx 2");
    const linked = (name: string, units: Record<string, string>) => {
      const dir = join(box.dir, name, "etc", "systemd", "system");
      mkdirSync(dir, { recursive: true });
      for (const [unit, target] of Object.entries(units)) symlinkSync(target, join(dir, unit));
      return join(box.dir, name);
    };
    const old = linked("old", { "sshd.service": shared, "nginx.service": oldNginx });
    const next = linked("new", { "sshd.service": shared, "nginx.service": newNginx });
    box.stub("nix", "true");
    const units = box.run("changes", "nix-deploy-changes", [old, next]).stdout.split("@@units\n")[1] ?? "";
    expect(parseUnitChanges(units.split("\n"))).toEqual([{ unit: "nginx.service", action: "restart" }]);

    // Both systems on one unit directory (no unit changed): nothing to compare.
    const sharedUnits = join(box.dir, "units");
    mkdirSync(sharedUnits);
    symlinkSync(shared, join(sharedUnits, "sshd.service"));
    for (const name of ["a", "b"]) {
      mkdirSync(join(box.dir, name, "etc", "systemd"), { recursive: true });
      symlinkSync(sharedUnits, join(box.dir, name, "etc", "systemd", "system"));
    }
    expect(box.run("changes", "nix-deploy-changes", [join(box.dir, "a"), join(box.dir, "b")]).stdout).toBe(
      "@@packages\n@@units\n",
    );
  });

  it("systems without units and a failing diff: Nix's error in the packages section, no units", () => {
    box.stub("nix", "echo 'error: path is not valid' >&2; exit 1");
    const result = box.run("changes", "nix-deploy-changes", [join(box.dir, "a"), join(box.dir, "b")]);
    expect(result).toMatchObject({ stdout: "@@packages\nerror: path is not valid\n@@units\n", status: 0 });
  });
});
