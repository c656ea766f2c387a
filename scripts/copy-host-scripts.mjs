// Copies the host scripts (src/engine/host/scripts/*.sh) and the shell completion scripts
// (src/cli/completions/*) beside the compiled code that reads them in dist/: tsc compiles
// TypeScript and copies nothing else. Run by `npm run build`.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
for (const dir of [
  ["engine", "host", "scripts"],
  ["cli", "completions"],
]) {
  const from = join(root, "src", ...dir);
  const to = join(root, "dist", ...dir);
  // A script removed from the sources must not linger in dist/.
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from).filter((file) => !file.endsWith(".ts")))
    copyFileSync(join(from, name), join(to, name));
}
