import { UserError } from "./errors.js";
import { type CommandResult, runCommand } from "./process.js";

/**
 * The one adapter over the `nix` command line. It knows the differences between Nix versions so the
 * rest of the engine does not: Nix 2.8 (Debian's, and CI's) has no `--print-out-paths`, so builds read
 * `--json` (present since 2.4 and stable since); Nix 2.19 turned `path-info --json` from an array into
 * an object keyed by store path, so both shapes are parsed.
 */

export interface NixVersion {
  implementation: "nix" | "lix";
  version: string;
  major: number;
  minor: number;
  patch: number;
  /** `nix build --print-out-paths` (Nix 2.11+, every Lix). */
  hasPrintOutPaths: boolean;
  /** `nix path-info --json` prints `{ path: info }` (Nix 2.19+) rather than `[{ path, ... }]`. */
  pathInfoIsObject: boolean;
  /**
   * `nix flake update NAME...` updates only the named inputs (Nix 2.19+); before, positional
   * arguments of `nix flake update` were flake references and `nix flake lock --update-input NAME`
   * did it. Lix forked from 2.18 and kept the old form.
   */
  flakeUpdateTakesInputs: boolean;
  /**
   * A derivation's outputs are named `DRV^out` (Nix 2.13+, every Lix); before, the bare `.drv` path
   * stood for its outputs (later Nix versions read a bare path as the derivation file itself).
   */
  hasCaretOutputs: boolean;
}

export interface PathInfo {
  path: string;
  narSize: number;
  closureSize?: number;
  references: string[];
  valid: boolean;
}

export interface BuildResult {
  drvPath: string;
  outputs: Record<string, string>;
}

export function parseNixVersion(text: string): NixVersion {
  const match = /\((Nix|Lix)[^)]*\)\s+(\d+)\.(\d+)(?:\.(\d+))?\S*/.exec(text.trim());
  if (!match)
    throw new UserError(
      `cannot read the Nix version from "${text.trim()}"`,
      "install Nix 2.8 or newer, or Lix",
    );
  const implementation = match[1] === "Lix" ? "lix" : "nix";
  const major = Number(match[2]);
  const minor = Number(match[3]);
  const patch = Number(match[4] ?? 0);
  const atLeast = (mi: number) => major > 2 || (major === 2 && minor >= mi);
  return {
    implementation,
    version: `${major}.${minor}.${patch}`,
    major,
    minor,
    patch,
    hasPrintOutPaths: implementation === "lix" || atLeast(11),
    hasCaretOutputs: implementation === "lix" || atLeast(13),
    // Lix forked from Nix 2.18 and kept the array.
    pathInfoIsObject: implementation === "nix" && atLeast(19),
    flakeUpdateTakesInputs: implementation === "nix" && atLeast(19),
  };
}

/** `nix build --json`: `[{ drvPath, outputs: { out: path } }]` on every version that has flakes. */
export function parseBuildJson(text: string): BuildResult[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error("nix build --json did not print a list");
  return parsed.map((entry) => {
    const { drvPath, outputs } = entry as { drvPath?: unknown; outputs?: unknown };
    if (typeof drvPath !== "string" || typeof outputs !== "object" || outputs === null) {
      throw new Error("nix build --json printed an entry without drvPath and outputs");
    }
    return { drvPath, outputs: outputs as Record<string, string> };
  });
}

/** `nix path-info --json` in both shapes; an invalid path is `null` (object form) or `valid: false`. */
export function parsePathInfoJson(text: string): PathInfo[] {
  const parsed: unknown = JSON.parse(text);
  const entries: Array<[string, Record<string, unknown> | null]> = Array.isArray(parsed)
    ? parsed.map((entry: Record<string, unknown>) => [String(entry.path), entry])
    : Object.entries(parsed as Record<string, Record<string, unknown> | null>);
  return entries.map(([path, info]) => ({
    path,
    valid: info !== null && info.valid !== false,
    narSize: typeof info?.narSize === "number" ? info.narSize : 0,
    closureSize: typeof info?.closureSize === "number" ? info.closureSize : undefined,
    references: Array.isArray(info?.references) ? (info.references as string[]) : [],
  }));
}

/** The last lines of a Nix failure, starting at its first `error:` line when there is one. */
export function nixErrorExcerpt(stderr: string, maxLines = 15): string {
  const lines = stderr
    .split("\n")
    .filter((l) => l.trim() !== "" && !/^warning: Git tree .* is dirty$/.test(l));
  const first = lines.findIndex((l) => l.startsWith("error:"));
  const relevant = first >= 0 ? lines.slice(first) : lines;
  return relevant.slice(-maxLines).join("\n");
}

/** `nix --version` answers at once; longer means the program hangs. */
const VERSION_TIMEOUT_MS = 30_000;
/** Commands that may fetch every input of a flake (`flake update`, `flake metadata`) over a slow network. */
const FETCHING_TIMEOUT_MS = 600_000;

export interface NixOptions {
  /** The `nix` program; `NIX_DEPLOY_NIX` overrides it. */
  program?: string;
  /** Extra `--option NAME VALUE` pairs for every call. */
  options?: Record<string, string>;
  /** The environment nix runs in (NIX_CONFIG, NIX_REMOTE, ...); the process's by default. */
  env?: NodeJS.ProcessEnv;
}

export class Nix {
  private versionPromise?: Promise<NixVersion>;
  private readonly program: string;
  private readonly globalArgs: string[];
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: NixOptions = {}) {
    this.env = options.env ?? process.env;
    this.program = options.program ?? process.env.NIX_DEPLOY_NIX ?? "nix";
    this.globalArgs = ["--extra-experimental-features", "nix-command flakes"];
    for (const [name, value] of Object.entries(options.options ?? {}))
      this.globalArgs.push("--option", name, value);
  }

  version(): Promise<NixVersion> {
    this.versionPromise ??= runCommand(this.program, ["--version"], {
      timeoutMs: VERSION_TIMEOUT_MS,
      env: this.env,
    }).then((result) => {
      if (result.exitCode !== 0) {
        throw new UserError(
          `cannot run ${this.program}: ${result.stderr.trim() || `exit ${result.exitCode}`}`,
          "install Nix (Debian: apt-get install nix-bin) and make sure `nix` is on PATH",
        );
      }
      return parseNixVersion(result.stdout);
    });
    return this.versionPromise;
  }

  /** Runs `nix ARGS` with flakes enabled; a non-zero exit is returned, not thrown. */
  run(
    args: readonly string[],
    options: { timeoutMs?: number; signal?: AbortSignal; cwd?: string; env?: Record<string, string> } = {},
  ): Promise<CommandResult> {
    return runCommand(this.program, [...this.globalArgs, ...args], {
      ...options,
      env: { ...this.env, ...options.env },
    });
  }

  /** `nix eval --json INSTALLABLE`, optionally through `--apply FN`. */
  async evalJson<T = unknown>(
    installable: string,
    options: { apply?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const args = ["eval", "--json", installable];
    if (options.apply) args.push("--apply", options.apply);
    const result = await this.run(args, { signal: options.signal });
    if (result.exitCode !== 0) {
      throw new UserError(
        `nix eval ${installable} failed:\n${nixErrorExcerpt(result.stderr)}`,
        "fix the evaluation error above, then try again",
      );
    }
    return JSON.parse(result.stdout) as T;
  }

  /** Builds installables without result links. Nix does not print them in the order given. */
  async build(
    installables: readonly string[],
    options: { signal?: AbortSignal; what?: string; remedy?: string } = {},
  ): Promise<BuildResult[]> {
    const result = await this.run(["build", "--no-link", "--json", ...installables], {
      signal: options.signal,
    });
    if (result.exitCode !== 0) {
      throw new UserError(
        `${options.what ?? "nix build"} failed:\n${nixErrorExcerpt(result.stderr)}`,
        options.remedy ?? "fix the build error above, then try again",
      );
    }
    return parseBuildJson(result.stdout);
  }

  /**
   * Updates the lock of the flake in `flakeDir`: every input, or only the named ones. Runs in the
   * directory, so no flake reference is needed and both command forms apply to it.
   */
  async updateLock(
    flakeDir: string,
    inputs: readonly string[] = [],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const { flakeUpdateTakesInputs } = await this.version();
    const args =
      inputs.length === 0 || flakeUpdateTakesInputs
        ? ["flake", "update", ...inputs]
        : ["flake", "lock", ...inputs.flatMap((input) => ["--update-input", input])];
    const result = await this.run(args, {
      cwd: flakeDir,
      signal: options.signal,
      timeoutMs: FETCHING_TIMEOUT_MS,
    });
    if (result.exitCode !== 0) {
      throw new UserError(
        `updating the flake's lock failed:\n${nixErrorExcerpt(result.stderr)}`,
        inputs.length
          ? `check that ${inputs.join(", ")} are inputs of the flake and can be fetched`
          : "check that the flake's inputs can be fetched",
      );
    }
  }

  /**
   * The names of the flake's own inputs, as its lock would have them: read from the lock Nix computes
   * (`nix flake metadata`), so an input just added to flake.nix counts before the lock file has it.
   * Writes no lock.
   */
  async flakeInputNames(flakeDir: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const result = await this.run(["flake", "metadata", "--json", "--no-write-lock-file", "."], {
      cwd: flakeDir,
      signal: options.signal,
      timeoutMs: FETCHING_TIMEOUT_MS,
    });
    if (result.exitCode !== 0)
      throw new UserError(
        `reading the flake's inputs failed:\n${nixErrorExcerpt(result.stderr)}`,
        "check that the flake evaluates and its inputs can be fetched",
      );
    const { locks } = JSON.parse(result.stdout) as {
      locks?: { root?: string; nodes?: Record<string, { inputs?: Record<string, unknown> }> };
    };
    return Object.keys(locks?.nodes?.[locks.root ?? "root"]?.inputs ?? {}).sort();
  }

  /** `nix store diff-closures OLD NEW` on this machine's store; both paths must be in it. */
  async diffClosures(
    oldPath: string,
    newPath: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<string> {
    const result = await this.run(["store", "diff-closures", oldPath, newPath], { signal: options.signal });
    if (result.exitCode !== 0)
      throw new UserError(`nix store diff-closures failed:\n${nixErrorExcerpt(result.stderr)}`);
    return result.stdout;
  }

  async pathInfo(
    paths: readonly string[],
    options: { closureSize?: boolean; recursive?: boolean; derivation?: boolean } = {},
  ): Promise<PathInfo[]> {
    const args = [
      "path-info",
      "--json",
      ...(options.closureSize ? ["--closure-size"] : []),
      ...(options.recursive ? ["--recursive"] : []),
      // Nix 2.8 takes a .drv argument for its outputs; this flag means the derivation on every version.
      ...(options.derivation ? ["--derivation"] : []),
      ...paths,
    ];
    const result = await this.run(args);
    if (result.exitCode !== 0)
      throw new UserError(`nix path-info failed:\n${nixErrorExcerpt(result.stderr)}`);
    return parsePathInfoJson(result.stdout);
  }
}

/** `FLAKE#nixosConfigurations."HOST".ATTR`, with the host name quoted as a Nix attribute. */
export function hostInstallable(flake: string, host: string, attr = "config.system.build.toplevel"): string {
  return `${flake}#nixosConfigurations.${JSON.stringify(host)}.${attr}`;
}
