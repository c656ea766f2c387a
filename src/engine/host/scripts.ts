import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The shell scripts that run on hosts. Each is a file in ./scripts/, a POSIX sh script whose header
 * says its arguments and outputs; it reaches the host as the text of `sh -c`, with its arguments as
 * positional parameters (see hostCommand), so no input ever becomes part of a script's text.
 */
export const HOST_SCRIPT_NAMES = [
  "activation",
  "watchdog",
  "probe",
  "host-status",
  "health",
  "journal",
  "changes",
  "preflight",
  "upload-key",
  "ssh-host-key",
  "facts",
  "home-generations",
  "home-manager-activate",
] as const;

export type HostScriptName = (typeof HOST_SCRIPT_NAMES)[number];

/**
 * The bundle (scripts/bundle.ts) carries the scripts inside its code, as this constant: the JSON of
 * their texts by name, put in by esbuild's `define`, so that it needs no file beside it. Run from
 * src/ or dist/ it is not defined and the files are read.
 */
declare const NIX_DEPLOY_HOST_SCRIPTS: string | undefined;

let embedded: Readonly<Record<string, string>> | undefined;
const cache = new Map<HostScriptName, string>();

/** The script as it is sent: the file without its leading comment block, which is for readers. */
export function hostScript(name: HostScriptName): string {
  let text = cache.get(name);
  if (text === undefined) {
    if (typeof NIX_DEPLOY_HOST_SCRIPTS === "string") embedded ??= JSON.parse(NIX_DEPLOY_HOST_SCRIPTS);
    text = withoutHeader(embedded?.[name] ?? readFileSync(scriptFile(name), "utf8"));
    cache.set(name, text);
  }
  return text;
}

/**
 * The argument vector that runs a host script: `sh -c SCRIPT PROGRAM ARGS...`. PROGRAM is the
 * script's $0 (what `ps` shows on the host); the remote runner quotes every word, so the script and
 * each argument arrive as one word each, whatever they hold.
 */
export function hostCommand(name: HostScriptName, program: string, args: readonly string[] = []): string[] {
  return ["sh", "-c", hostScript(name), program, ...args];
}

/**
 * Where a script's file is: beside this module (src/, or dist/ after `npm run build`, which copies
 * them); a dist/ compiled by a plain `tsc` has no copies and reads the sources it was built from.
 */
export function scriptFile(name: HostScriptName): string {
  const beside = fileURLToPath(new URL(`./scripts/${name}.sh`, import.meta.url));
  if (existsSync(beside)) return beside;
  const source = fileURLToPath(new URL(`../../../src/engine/host/scripts/${name}.sh`, import.meta.url));
  if (existsSync(source)) return source;
  throw new Error(
    `the host script ${name}.sh is missing from ${beside}: build with npm run build, which copies src/engine/host/scripts/*.sh beside the compiled code`,
  );
}

/** Drops the shebang and the comment lines before the first command: documentation, not code. */
export function withoutHeader(text: string): string {
  const lines = text.split("\n");
  let first = 0;
  while (first < lines.length && /^\s*(#.*)?$/.test(lines[first] as string)) first++;
  return lines.slice(first).join("\n");
}
