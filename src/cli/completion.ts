/**
 * Shell completion, as nh and colmena ship it: a small script per shell that asks
 * `nix-deploy __complete WORDS...` for the candidates, so commands, flags, flag values and the
 * fleet's host names and @tags come from one place (the command table and the flake).
 */
import { createEngine } from "../engine/engine.js";
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

export function completionScript(shell: Shell, commands: readonly AnyCommand[]): string {
  const names = commands.map((c) => c.name).join(" ");
  switch (shell) {
    case "bash":
      return `# nix-deploy completion for bash: source it, or put it in /etc/bash_completion.d/
_nix_deploy() {
  local IFS=$'\\n'
  COMPREPLY=( $(nix-deploy __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) )
}
complete -o default -F _nix_deploy nix-deploy
`;
    case "zsh":
      return `#compdef nix-deploy
# nix-deploy completion for zsh: put it on your $fpath as _nix-deploy
_nix_deploy() {
  local -a candidates
  candidates=( \${(f)"$(nix-deploy __complete "\${words[@]:1:CURRENT-1}" 2>/dev/null)"} )
  compadd -a candidates
}
compdef _nix_deploy nix-deploy
`;
    case "fish":
      return `# nix-deploy completion for fish: put it in ~/.config/fish/completions/nix-deploy.fish
# commands: ${names}
complete -c nix-deploy -f -a '(nix-deploy __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`;
  }
}
