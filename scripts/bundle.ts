/**
 * Builds bundle/: the MCP server (bundle/nix-deploy-mcp.js) and the CLI (bundle/nix-deploy.js) with
 * every dependency inside, so that they run from a plain clone of the repository with no `npm ci`
 * and no build. A Claude Code marketplace install copies the repository as it is, and .mcp.json
 * starts bundle/nix-deploy-mcp.js; the npm package's bins are these files too.
 *
 *   npm run bundle              rebuild bundle/ from src/ and the locked dependencies
 *   npm run bundle -- --check   exit 1 unless bundle/ was built from the current inputs
 *
 * bundle/inputs.json records a hash of what the bundle is made of (the sources, the locked runtime
 * dependencies, esbuild's version, this script) and a hash of each file made; --check (and a test)
 * compares both, so a change to the sources without a new bundle, or a bundle edited by hand, fails.
 *
 * Modules that the code imports when first used (octokit, simple-git, execa, the HTTP transport)
 * become chunks of their own, loaded only then: the server's start reads only what it needs.
 *
 * The scripts that run on hosts (src/engine/host/scripts/*.sh), which src/ and dist/ read as files,
 * are carried inside the code (see hostScripts): the bundle needs no file beside it for them.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { build, version as esbuildVersion } from "esbuild";
// @ts-expect-error: a plain-JavaScript script (it runs before anything is installed), without types
import { installDifferences } from "./check-install.mjs";

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "bundle");
const MANIFEST = "inputs.json";

interface Manifest {
  inputs: string;
  esbuild: string;
  /** The locked packages the bundle holds code of (package-lock.json's keys). */
  packages: string[];
  files: Record<string, string>;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const HOST_SCRIPTS = join(ROOT, "src", "engine", "host", "scripts");

/** The host scripts' texts by name, which src/engine/host/scripts.ts reads from NIX_DEPLOY_HOST_SCRIPTS. */
function hostScripts(): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const file of readdirSync(HOST_SCRIPTS)
    .filter((name) => name.endsWith(".sh"))
    .sort())
    texts[file.slice(0, -".sh".length)] = readFileSync(join(HOST_SCRIPTS, file), "utf8");
  return texts;
}

const COMPLETIONS = join(ROOT, "src", "cli", "completions");

/** The shell completion scripts by shell, which src/cli/completion.ts reads from NIX_DEPLOY_COMPLETIONS. */
function completionScripts(): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const file of readdirSync(COMPLETIONS).sort())
    texts[file.slice("completion.".length)] = readFileSync(join(COMPLETIONS, file), "utf8");
  return texts;
}

/**
 * The hash of what the bundle is made of: the sources (host scripts included), this script,
 * tsconfig.json, the module type and overrides of package.json, esbuild's version, and the lock
 * entries of the packages the bundle holds (so a new test tool in the lock needs no new bundle,
 * while a new version of zod does).
 */
export function inputsHash(packages: readonly string[]): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const locked = (JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as LockFile).packages;
  const parts: Array<[string, string]> = [
    ...filesUnder(join(ROOT, "src"))
      .filter((file) => /\.(ts|sh|bash|zsh|fish)$/.test(file))
      .map((file): [string, string] => [relative(ROOT, file), readFileSync(file, "utf8")]),
    ["scripts/bundle.ts", readFileSync(join(ROOT, "scripts", "bundle.ts"), "utf8")],
    ["tsconfig.json", readFileSync(join(ROOT, "tsconfig.json"), "utf8")],
    ["package.json", JSON.stringify({ type: pkg.type, overrides: pkg.overrides })],
    ["package-lock.json", JSON.stringify([...packages].sort().map((path) => [path, locked[path] ?? null]))],
    ["esbuild", esbuildVersion],
  ];
  parts.sort(([a], [b]) => a.localeCompare(b));
  return sha256(parts.map(([name, content]) => `${name}\0${content}\0`).join(""));
}

interface LockFile {
  packages: Record<string, { version?: string }>;
}

/**
 * The package a bundled file belongs to, as package-lock.json names it:
 * `node_modules/@octokit/request/node_modules/content-type/dist/index.js` is
 * `node_modules/@octokit/request/node_modules/content-type`. Paths may start above the root (a
 * node_modules that is a link elsewhere), hence the search for the first `node_modules/`.
 */
function lockKeyOf(path: string): string | undefined {
  return /node_modules\/(?:(?:@[^/]+\/)?[^/]+\/node_modules\/)*(?:@[^/]+\/)?[^/]+/.exec(path)?.[0];
}

/** Why bundle/ does not match the inputs, or undefined when it does. */
export function bundleStaleness(): string | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(OUT, MANIFEST), "utf8")) as Manifest;
  } catch {
    return `bundle/${MANIFEST} is missing`;
  }
  if (manifest.inputs !== inputsHash(manifest.packages ?? []))
    return "the sources, the locked dependencies or esbuild changed since bundle/ was built";
  const present = filesUnder(OUT)
    .map((file) => relative(OUT, file))
    .filter((file) => file !== MANIFEST)
    .sort();
  if (JSON.stringify(present) !== JSON.stringify(Object.keys(manifest.files).sort()))
    return `bundle/ holds other files than bundle/${MANIFEST} lists`;
  for (const [file, hash] of Object.entries(manifest.files))
    if (sha256(readFileSync(join(OUT, file))) !== hash) return `bundle/${file} was changed after the build`;
  return undefined;
}

/** Why node_modules cannot make the bundle (it differs from package-lock.json), or undefined. */
export function installMismatch(): string | undefined {
  const differences: string[] = installDifferences(ROOT);
  if (differences.length === 0) return undefined;
  return `node_modules does not match package-lock.json (${differences[0]}${differences.length > 1 ? `, and ${differences.length - 1} more` : ""}); run npm ci`;
}

/** Builds the bundle, with its inputs.json, into the directory `outdir` (made or filled). */
export async function buildBundle(outdir: string): Promise<void> {
  // The bundle holds the dependencies' code itself: it must be the locked versions' code.
  const mismatch = installMismatch();
  if (mismatch) throw new Error(`${mismatch}, then npm run bundle`);
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: {
      "nix-deploy-mcp": "src/index.ts",
      "nix-deploy": "src/cli.ts",
      // Started as a worker thread by the analysis for deeply nested files, by this name beside
      // the module that starts it (src/engine/analysis/analyze.ts): so every file of the bundle,
      // chunks too, lies in the one directory.
      "deep-worker": "src/engine/analysis/deep-worker.ts",
    },
    outdir,
    entryNames: "[name]",
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Whitespace and syntax only: names stay readable in a stack trace. No comments with paths,
    // and paths through node_modules as written even where it is a link (a worktree's): chunk names
    // hash the paths, so every checkout builds the same bytes.
    minifyWhitespace: true,
    minifySyntax: true,
    preserveSymlinks: true,
    legalComments: "eof",
    // CommonJS dependencies (pino, simple-git) call require(); an ES module has none of its own.
    banner: {
      js: 'import{createRequire as __nixDeployRequire}from"node:module";const require=__nixDeployRequire(import.meta.url);',
    },
    // A string (the scripts' JSON), which esbuild puts where it is used; an object would become a
    // module that every other module initialises.
    define: {
      NIX_DEPLOY_HOST_SCRIPTS: JSON.stringify(JSON.stringify(hostScripts())),
      NIX_DEPLOY_COMPLETIONS: JSON.stringify(JSON.stringify(completionScripts())),
    },
    logLevel: "warning",
    write: true,
    metafile: true,
  });
  if (result.errors.length > 0) throw new Error("esbuild failed");
  const files: Record<string, string> = {};
  for (const file of filesUnder(outdir).sort()) files[relative(outdir, file)] = sha256(readFileSync(file));
  const packages = [
    ...new Set(Object.keys(result.metafile.inputs).flatMap((input) => lockKeyOf(input) ?? [])),
  ].sort();
  const manifest: Manifest = { inputs: inputsHash(packages), esbuild: esbuildVersion, packages, files };
  writeFileSync(join(outdir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Rebuilds bundle/: built beside it (the same file system, for the rename), then swapped in. */
async function bundle(): Promise<void> {
  const staging = mkdtempSync(join(ROOT, ".bundle-"));
  try {
    await buildBundle(staging);
    // mkdtemp makes the directory private; a clone's files are readable by all.
    chmodSync(staging, 0o755);
    rmSync(OUT, { recursive: true, force: true });
    renameSync(staging, OUT);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  if (process.argv.includes("--check")) {
    const stale = bundleStaleness();
    if (stale) {
      process.stderr.write(`bundle/ is stale: ${stale}; run npm run bundle and commit bundle/\n`);
      process.exit(1);
    }
    process.stderr.write("bundle/ matches the sources\n");
  } else {
    try {
      await bundle();
    } catch (error) {
      process.stderr.write(`npm run bundle: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
    const { files } = JSON.parse(readFileSync(join(OUT, MANIFEST), "utf8")) as Manifest;
    process.stderr.write(`bundle/ rebuilt (${Object.keys(files).length} files)\n`);
  }
}
