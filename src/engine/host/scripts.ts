import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Scripts that run on a host, each a `.sh` file in ./scripts with a header saying its arguments and
 * outputs. They travel as the `sh -c` text of a remote command line (never with a secret in them),
 * read once and kept.
 */
const loaded = new Map<string, string>();

export function hostScript(name: string): string {
  let text = loaded.get(name);
  if (text === undefined) {
    text = readScript(new URL(`./scripts/${name}.sh`, import.meta.url));
    loaded.set(name, text);
  }
  return text;
}

/**
 * tsc copies no `.sh` file into dist/, so a build run from dist/ reads the script beside its source
 * in src/. (A stopgap until the build copies the scripts.)
 */
function readScript(url: URL): string {
  const path = fileURLToPath(url);
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const source = path.replace(/([/\\])dist([/\\]engine[/\\]host[/\\]scripts[/\\])/, "$1src$2");
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || source === path) throw error;
    return readFileSync(source, "utf8");
  }
}
