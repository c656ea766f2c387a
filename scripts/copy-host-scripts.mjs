// Copies the host scripts (src/engine/host/scripts/*.sh) beside the compiled loader in dist/, which
// reads them at run time: tsc compiles TypeScript and copies nothing else. Run by `npm run build`.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const from = join(root, "src", "engine", "host", "scripts");
const to = join(root, "dist", "engine", "host", "scripts");
// A script removed from the sources must not linger in dist/.
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from).filter((file) => file.endsWith(".sh")))
  copyFileSync(join(from, name), join(to, name));
