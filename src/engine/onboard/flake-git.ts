/**
 * What add_host needs from the flake's repository and lock: the names of its inputs (from
 * flake.lock, or flake.nix when there is no lock yet: nothing is fetched), and the new files made
 * visible to Nix (a flake in git sees only files git knows) or forgotten again on rollback.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNix } from "../analysis/parser.js";
import type { Binding, Expr } from "../analysis/syntax.js";

function inputsOfSource(text: string): string[] {
  const ast = parseNix(text).ast;
  const top: Expr | undefined = ast?.kind === "Paren" ? ast.expr : ast;
  if (top?.kind !== "Attrs") return [];
  const names: string[] = [];
  const name = (b: Extract<Binding, { kind: "Bind" }>, i: number) => {
    const part = b.path[i];
    return part?.kind === "Ident" ? part.name : undefined;
  };
  for (const b of top.bindings) {
    if (b.kind !== "Bind" || name(b, 0) !== "inputs") continue;
    if (b.path.length >= 2) names.push(name(b, 1) ?? "");
    else if (b.value.kind === "Attrs")
      for (const inner of b.value.bindings) if (inner.kind === "Bind") names.push(name(inner, 0) ?? "");
  }
  return names.filter(Boolean);
}

/** The flake's own inputs: the lock's root inputs, or those flake.nix declares. */
export function flakeInputs(flake: string, flakeText: string): string[] {
  const lockFile = join(flake, "flake.lock");
  if (existsSync(lockFile)) {
    try {
      const lock = JSON.parse(readFileSync(lockFile, "utf8")) as {
        root?: string;
        nodes?: Record<string, { inputs?: Record<string, unknown> }>;
      };
      return Object.keys(lock.nodes?.[lock.root ?? "root"]?.inputs ?? {});
    } catch {
      // A lock that does not parse: flake.nix still says which inputs there are.
    }
  }
  return inputsOfSource(flakeText);
}

async function gitOf(flake: string) {
  const { simpleGit } = await import("simple-git");
  const git = simpleGit(flake);
  try {
    if ((await git.raw(["rev-parse", "--is-inside-work-tree"])).trim() !== "true") return undefined;
  } catch {
    return undefined;
  }
  return git;
}

export async function isGitRepository(flake: string): Promise<boolean> {
  return (await gitOf(flake)) !== undefined;
}

/** `git add --intent-to-add` of the paths git does not track yet; returns those it added. */
export async function gitAddIntent(flake: string, paths: string[]): Promise<string[]> {
  const git = await gitOf(flake);
  if (!git || paths.length === 0) return [];
  const tracked = new Set(
    (await git.raw(["ls-files", "-z", "--", ...paths])).split("\0").filter((p) => p !== ""),
  );
  const untracked = paths.filter((p) => !tracked.has(p));
  if (untracked.length) await git.raw(["add", "--intent-to-add", "--", ...untracked]);
  return untracked;
}

/** Takes paths added by gitAddIntent out of the index again (the files themselves are left). */
export async function gitForget(flake: string, paths: string[]): Promise<void> {
  const git = await gitOf(flake);
  if (!git || paths.length === 0) return;
  await git.raw(["rm", "--cached", "--quiet", "--ignore-unmatch", "--", ...paths]);
}
