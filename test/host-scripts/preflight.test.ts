/** preflight.sh run locally: Nix's version (or `none`) and the space left in /nix. */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sandboxPerTest } from "./run.js";

describe("preflight.sh", () => {
  const box = sandboxPerTest();

  it("prints Nix's version, then the df line of /nix", () => {
    box.stub("nix", 'echo "nix (Nix) 2.24.9"');
    const result = box.run("preflight", "nix-deploy-preflight");
    expect(result.status).toBe(0);
    const [version, disk] = result.stdout.split("\n");
    expect(version).toBe("nix (Nix) 2.24.9");
    if (existsSync("/nix")) expect(Number(disk?.trim().split(/\s+/)[3])).toBeGreaterThan(0);
  });

  it("a nix that does not run is `none`", () => {
    box.stub("nix", "exit 127");
    expect(box.run("preflight", "nix-deploy-preflight").stdout.split("\n")[0]).toBe("none");
  });
});
