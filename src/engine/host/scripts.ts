import { existsSync, readFileSync } from "node:fs";

/**
 * The shell scripts that run on hosts, kept as files (./scripts/NAME.sh) so that they can be read,
 * linted and tested as shell. Each is read once and cached. tsc does not copy them into dist/, so a
 * compiled build reads them from the source tree beside it.
 */
const cache = new Map<string, string>();

export function hostScript(name: string): string {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const beside = new URL(`./scripts/${name}.sh`, import.meta.url);
  const fromSource = new URL(`../../../src/engine/host/scripts/${name}.sh`, import.meta.url);
  const text = readFileSync(existsSync(beside) ? beside : fromSource, "utf8");
  cache.set(name, text);
  return text;
}
