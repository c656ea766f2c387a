/**
 * Shell completion, as nh and colmena ship it: a small script per shell that asks
 * `nix-deploy __complete WORDS...` for the candidates, so commands, flags, flag values and the
 * fleet's host names and @tags come from one place (the command table and the flake).
 */
import { readFileSync } from "node:fs";
import { createEngine } from "../engine/engine.js";
import { packageFile } from "../engine/package.js";
import { fleetTargets } from "../prompts/complete.js";
import { type AnyCommand, GLOBAL_OPTIONS } from "./command.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/**
 * Host names and @tags of the flake, as the prompts complete them (fleetTargets), without `all`:
 * on the command line that is --all. Nothing (never an error) when the flake cannot be read.
 */
async function fleetWords(flake: string | undefined): Promise<string[]> {
  const engine = createEngine({ flake, logFile: false });
  try {
    return (await fleetTargets(engine)).filter((word) => word !== "all");
  } finally {
    await engine.close();
  }
}

/**
 * The candidates for the last word of `words` (the words after `nix-deploy`, the last one being
 * completed, possibly empty).
 */
export async function completionCandidates(
  words: string[],
  commands: readonly AnyCommand[],
): Promise<string[]> {
  const current = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  const flakeAt = before.indexOf("--flake");
  const flake = flakeAt >= 0 ? before[flakeAt + 1] : undefined;
  const cmd = commands.find((c) => before.includes(c.name));
  const matching = (candidates: string[]) => candidates.filter((c) => c.startsWith(current));
  if (!cmd) {
    if (current.startsWith("-")) return matching(Object.keys(GLOBAL_OPTIONS).map((o) => `--${o}`));
    return matching([...commands.map((c) => c.name), "completions"]);
  }
  const options = { ...GLOBAL_OPTIONS, ...cmd.options };
  const previous = before.at(-1);
  const valueOf = previous?.startsWith("--") ? options[previous.slice(2)] : undefined;
  if (valueOf && valueOf.type === "string") {
    if (valueOf.complete === "hosts")
      return matching((await fleetWords(flake)).filter((w) => !w.startsWith("@")));
    return matching([...(valueOf.complete ?? [])]);
  }
  if (current.startsWith("-")) return matching(Object.keys(options).map((o) => `--${o}`));
  if (cmd.positionals === "hosts") return matching(await fleetWords(flake));
  return [];
}

/**
 * The bundle (scripts/bundle.ts) carries the completion scripts inside its code as this constant,
 * the JSON of their texts by shell; run from src/ or dist/ it is not defined and the files are read.
 */
declare const NIX_DEPLOY_COMPLETIONS: string | undefined;

/**
 * The completion script for `shell`: src/cli/completions/completion.bash, .zsh or .fish, read from
 * the package (src/ and dist/ run from a checkout that has it; the bundle carries the texts).
 */
export function completionScript(shell: Shell): string {
  if (typeof NIX_DEPLOY_COMPLETIONS === "string") return JSON.parse(NIX_DEPLOY_COMPLETIONS)[shell];
  return readFileSync(packageFile(`src/cli/completions/completion.${shell}`), "utf8");
}
