/** probe.sh run locally: the running system and the profile's link, each line empty when absent. */
import { existsSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { profileGeneration } from "../../src/engine/host/protocol.js";
import { sandboxPerTest } from "./run.js";

describe("probe.sh", () => {
  const box = sandboxPerTest();

  const current = existsSync("/run/current-system") ? readlinkSync("/run/current-system") : "";

  it("prints the running system and the profile's link, for a profile path with spaces", () => {
    const profile = join(box.dir, "my profile");
    symlinkSync("my profile-42-link", profile);
    const result = box.run("probe", "nix-deploy-probe", [profile]);
    expect(result).toMatchObject({ stdout: `${current}\nmy profile-42-link\n`, status: 0 });
    expect(profileGeneration(result.stdout.split("\n")[1] as string)).toBe(42);
  });

  it("a missing profile is an empty line, not an error", () => {
    const result = box.run("probe", "nix-deploy-probe", [join(box.dir, "none")]);
    expect(result).toMatchObject({ stdout: `${current}\n\n`, status: 0 });
  });
});
