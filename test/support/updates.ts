/** Helpers for the flake update tests: move the fixture nixpkgs, snapshot a tree. */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import type { SimFleet } from "../fleet/harness.js";

/** Sets package versions in the fixture nixpkgs and commits them, as an upstream nixpkgs moves. */
export async function bumpNixpkgs(fleet: SimFleet, versions: Record<string, string>): Promise<void> {
  const file = join(fleet.nixpkgsDir, "versions.json");
  const current = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  writeFileSync(file, `${JSON.stringify({ ...current, ...versions }, null, 2)}\n`);
  const env = { ...process.env, ...fleet.env };
  await execa("git", ["commit", "-q", "-am", `bump ${Object.keys(versions).join(", ")}`], {
    cwd: fleet.nixpkgsDir,
    env,
  });
}

/** Every file of a directory, .git included, with a hash of its bytes: equal snapshots, equal trees. */
export function snapshotTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile())
        files[relative(dir, full)] = createHash("sha256").update(readFileSync(full)).digest("hex");
    }
  };
  walk(dir);
  return files;
}
