/**
 * The measuring thread of glob.test.ts: a flake of files with long paths, listed with ignore globs
 * that make a backtracking matcher explode, against globs of the same number and length that do not.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listNixFiles, type ScanConfig } from "../../src/engine/analysis/files.js";
import { BENIGN_GLOBS, HOSTILE_GLOBS, LONG_DIRS } from "./glob-cases.js";
import { reportCosts } from "./measure.js";

const root = mkdtempSync(join(tmpdir(), "nix-deploy-globs-"));
for (let i = 0; i < 40; i++) {
  const dir = join(root, ...LONG_DIRS, `d${i}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "default.nix"), "{ }");
}

const list = (ignore: string[]) => {
  const config: ScanConfig = { disable: [], ignore };
  return async () => {
    const { files } = await listNixFiles(root, {}, config);
    if (files.length !== 40)
      throw new Error(`the globs must ignore nothing, yet listed ${files.length} files`);
  };
};

await reportCosts(
  list(BENIGN_GLOBS),
  Object.fromEntries(Object.entries(HOSTILE_GLOBS).map(([name, globs]) => [name, list(globs)])),
);
