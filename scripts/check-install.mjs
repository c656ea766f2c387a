#!/usr/bin/env node
/**
 * Whether node_modules holds exactly what package-lock.json names: every locked package installed at
 * its locked version (packages for other platforms, which npm skips, excepted). Exit 0 when it does;
 * exit 1 with the first differences on stderr when it does not.
 *
 * Used by scripts/setup.sh to skip `npm ci` (which deletes and reinstalls every package, a minute or
 * more) when nothing changed, and by scripts/bundle.ts, whose output must come from the locked
 * versions. Plain JavaScript with no dependency: it runs before anything is installed.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function installDifferences(root) {
  const lockFile = join(root, "package-lock.json");
  if (!existsSync(lockFile)) return ["no package-lock.json"];
  const lock = JSON.parse(readFileSync(lockFile, "utf8"));
  const differences = [];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === "" || entry.link) continue;
    const manifest = join(root, path, "package.json");
    if (!existsSync(manifest)) {
      // npm installs an optional package only on the platforms it names (esbuild's, biome's binaries).
      if (!entry.optional) differences.push(`${path} is not installed (locked: ${entry.version})`);
      continue;
    }
    const installed = JSON.parse(readFileSync(manifest, "utf8")).version;
    if (installed !== entry.version)
      differences.push(`${path} is ${installed}, package-lock.json says ${entry.version}`);
  }
  return differences;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const differences = installDifferences(root);
  if (differences.length > 0) {
    process.stderr.write(
      `node_modules does not match package-lock.json:\n${differences
        .slice(0, 10)
        .map((d) => `  ${d}`)
        .join("\n")}${differences.length > 10 ? `\n  ... and ${differences.length - 10} more` : ""}\n`,
    );
    process.exit(1);
  }
}
