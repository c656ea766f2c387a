import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Files that ship beside the code (package.json, templates/) are read at run time, from the package
 * root. The code runs from src/ (tests under tsx), dist/ (tsc's build, one file per module) or
 * bundle/ (esbuild's bundle, where every module shares one file's location), each at another depth
 * below the root, so the root is found by walking up to the directory that holds our package.json.
 */
let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "nix-deploy"
    ) {
      root = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(
        `no package.json of nix-deploy above ${fileURLToPath(import.meta.url)}: the installation is incomplete`,
      );
    dir = parent;
  }
}

/** A file of the package, by its path from the package root (e.g. "templates/report.md"). */
export function packageFile(path: string): string {
  return join(packageRoot(), path);
}
