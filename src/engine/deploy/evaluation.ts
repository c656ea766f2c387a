import { freemem } from "node:os";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { hostInstallable, nixErrorExcerpt } from "../nix.js";
import { Semaphore } from "../process.js";
import { type DeployLimits, type LimitsInput, resolveLimits } from "./limits.js";

/**
 * Evaluating a NixOS host costs one evaluator process with its own copy of nixpkgs (hundreds of MB
 * and seconds of CPU with a real nixpkgs). A deployment of many hosts therefore evaluates them
 * together: one `nix eval` per chunk of hosts yields every host's system derivation, one
 * `nix build` per chunk builds them from those derivations (no second evaluation), and every phase
 * of the deployment asks this object rather than Nix, so no host is evaluated twice.
 */

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * Hosts per evaluator process: colmena's rule, one host per 512 MiB of the memory left after
 * keeping 1 GiB free, at least one. `override` (the `evalChunk` setting) wins when given.
 */
export function evalChunkSize(freeBytes: number, override?: number): number {
  if (override !== undefined) {
    if (!Number.isInteger(override) || override < 1)
      throw new UserError(`evalChunk must be a whole number of hosts, at least 1 (got ${override})`);
    return override;
  }
  return Math.max(1, Math.floor((freeBytes - GIB) / (512 * MIB)));
}

/** The evaluation options a deployment's limits give: hosts per evaluator, processes at once. */
export function evaluationLimits(limits: DeployLimits): Pick<HostEvaluationOptions, "chunk" | "processes"> {
  return { chunk: limits.evalChunk, processes: new Semaphore(limits.build) };
}

/**
 * The evaluation options of an operation that takes no limits of its own (test_build,
 * preview_updates): the environment's, else the inventory's, else the defaults, as a deployment's.
 */
export function fleetEvaluationLimits(
  env: NodeJS.ProcessEnv,
  inventory: LimitsInput | undefined,
): Pick<HostEvaluationOptions, "chunk" | "processes"> {
  return evaluationLimits(resolveLimits(undefined, env, inventory));
}

/** `items` cut into consecutive runs of at most `size`. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * A Nix string literal holding `text`: JSON's escapes are Nix's for `"`, `\` and control
 * characters, and `${` (an interpolation in Nix, plain text in JSON) is escaped as `\${`.
 */
export function nixString(text: string): string {
  return JSON.stringify(text).replaceAll("${", "\\${");
}

/** What a deployment's phases read of a host's evaluated configuration: the system derivation. */
export const SYSTEM_DERIVATION = { drvPath: "c: c.config.system.build.toplevel.drvPath" };

/**
 * The `--apply` function that maps `nixosConfigurations` to, for each named host, an attribute set
 * of the given attributes, each a Nix function of the host's configuration (`c: ...`). The names
 * travel as one JSON string inside a Nix string literal, never as Nix code.
 */
export function hostsApply(hosts: readonly string[], attributes: Readonly<Record<string, string>>): string {
  const values = Object.entries(attributes)
    .map(([name, fn]) => `${nixString(name)} = (${fn}) c;`)
    .join(" ");
  return (
    `configurations: builtins.listToAttrs (map (name: let c = configurations.\${name}; in ` +
    `{ inherit name; value = { ${values} }; }) (builtins.filter (name: configurations ? \${name}) ` +
    `(builtins.fromJSON ${nixString(JSON.stringify(hosts))})))`
  );
}

export interface HostEvaluationOptions {
  /**
   * What to evaluate of each host: name → Nix function of its configuration. Everything a
   * deployment needs is named here, so that one evaluation answers every phase. Default: the
   * system derivation alone.
   */
  attributes?: Readonly<Record<string, string>>;
  /** Hosts per evaluator process; by default sized from free memory (see evalChunkSize). */
  chunk?: number;
  /** Evaluator and build processes at once (the deployment's build limit); default unbounded. */
  processes?: Semaphore;
  /** The hosts `build` may be asked for (default all): the others are evaluated, never built here. */
  builtHere?: ReadonlySet<string>;
  signal?: AbortSignal;
}

type HostValues = Record<string, unknown>;

/** One entry of `nix build --json`. */
interface BuildEntry {
  drvPath: string;
  outputs: { out?: string };
}

interface Chunk {
  hosts: string[];
  values?: Promise<Map<string, Promise<HostValues>>>;
  builds?: Promise<Map<string, Promise<string>>>;
}

/**
 * The evaluations and builds of one deployment's hosts, shared by its phases. Work starts for a
 * chunk when one of its hosts is first asked for, so hosts that are never reached cost nothing.
 * A chunk whose common evaluation or build fails is redone host by host, so that each host gets
 * its own error and the others their results.
 */
export class HostEvaluation {
  private readonly chunkOf = new Map<string, Chunk>();
  /** Evaluator processes started so far (chunk evaluations plus per-host retries). */
  evaluatorProcesses = 0;
  /** Hosts per evaluator process (options.chunk, or sized from free memory). */
  readonly chunkSize: number;

  constructor(
    private readonly engine: Engine,
    private readonly flake: string,
    hosts: readonly string[],
    private readonly options: HostEvaluationOptions = {},
  ) {
    this.chunkSize = evalChunkSize(freemem(), options.chunk);
    for (const names of chunksOf([...new Set(hosts)], this.chunkSize)) {
      const chunk: Chunk = { hosts: names };
      for (const name of names) this.chunkOf.set(name, chunk);
    }
  }

  /** A Nix process of this evaluation, within the deployment's build limit. */
  private nixProcess<T>(work: () => Promise<T>): Promise<T> {
    return this.options.processes ? this.options.processes.run(work) : work();
  }

  /** The host's evaluated attributes (see HostEvaluationOptions.attributes). */
  async values(host: string): Promise<HostValues> {
    const chunk = this.chunk(host);
    chunk.values ??= this.evaluate(chunk.hosts);
    return (await chunk.values).get(host) as Promise<HostValues>;
  }

  /** The store path of the host's system derivation (`….drv`). */
  async derivation(host: string): Promise<string> {
    const { drvPath } = await this.values(host);
    if (typeof drvPath !== "string")
      throw new Error("this evaluation does not include the system derivation");
    return drvPath;
  }

  /** The host's built system (the toplevel's store path), built together with its chunk. */
  async build(host: string): Promise<string> {
    const chunk = this.chunk(host);
    const { attributes, builtHere } = this.options;
    // A host built alone is evaluated by `nix build` itself, which yields no other values.
    const derivationOnly = Object.keys(attributes ?? SYSTEM_DERIVATION).every(
      (name) => name in SYSTEM_DERIVATION,
    );
    const alone = chunk.hosts.length === 1 && (!builtHere || builtHere.has(host));
    if (!chunk.builds && !chunk.values && alone && derivationOnly)
      chunk.builds = this.buildAlone(chunk, host);
    chunk.builds ??= this.buildChunk(chunk);
    return (await chunk.builds).get(host) as Promise<string>;
  }

  private chunk(host: string): Chunk {
    const chunk = this.chunkOf.get(host);
    if (!chunk) throw new Error(`${host} is not among the hosts of this evaluation`);
    return chunk;
  }

  private async evaluate(hosts: string[]): Promise<Map<string, Promise<HostValues>>> {
    const { engine, flake, options } = this;
    this.evaluatorProcesses++;
    const result = await this.nixProcess(() =>
      engine.nix.run(
        [
          "eval",
          "--no-write-lock-file",
          "--json",
          `${flake}#nixosConfigurations`,
          "--apply",
          hostsApply(hosts, options.attributes ?? SYSTEM_DERIVATION),
        ],
        { signal: options.signal },
      ),
    );
    if (result.exitCode === 0) {
      const values = JSON.parse(result.stdout) as Record<string, HostValues>;
      return new Map(
        hosts.map((host) => {
          const found = values[host];
          return [
            host,
            found ? Promise.resolve(found) : awaitedLater(Promise.reject(new HostNotInFlake(host, flake))),
          ];
        }),
      );
    }
    if (hosts.length === 1) {
      const host = hosts[0] as string;
      return new Map([[host, awaitedLater(Promise.reject(evaluationFailed(host, flake, result.stderr)))]]);
    }
    // One host's error stops the whole evaluation: find out which, and give the others theirs.
    const alone = await Promise.all(hosts.map((host) => this.evaluate([host])));
    return new Map(alone.flatMap((values) => [...values]));
  }

  private async buildChunk(chunk: Chunk): Promise<Map<string, Promise<string>>> {
    const { engine, options } = this;
    const derivations = new Map<string, string>();
    const results = new Map<string, Promise<string>>();
    const { builtHere } = this.options;
    for (const host of chunk.hosts.filter((h) => !builtHere || builtHere.has(h))) {
      await this.derivation(host).then(
        (drv) => derivations.set(host, drv),
        (error) => results.set(host, awaitedLater(Promise.reject(error))),
      );
    }
    const built = await this.realise([...derivations.values()], options.signal);
    for (const [host, drv] of derivations) {
      const output = built.outputs.get(drv);
      if (output) results.set(host, Promise.resolve(output));
      else {
        // The chunk's build failed: build this host alone, which names its own failure.
        const alone = awaitedLater(
          derivations.size === 1
            ? Promise.reject(buildFailed(host, this.flake, built.stderr))
            : this.realise([drv], options.signal).then((again) => {
                const out = again.outputs.get(drv);
                if (!out) throw buildFailed(host, this.flake, again.stderr);
                return out;
              }),
        );
        results.set(host, alone);
      }
    }
    return results;
  }

  /**
   * A chunk of one host that nothing else reads: one `nix build` of its toplevel evaluates and builds
   * it in one process (one Nix start-up fewer), its derivation kept for any later question. A failure
   * is redone in two steps, which tell an evaluation error from a build error.
   */
  private async buildAlone(chunk: Chunk, host: string): Promise<Map<string, Promise<string>>> {
    this.evaluatorProcesses++;
    const result = await this.nixProcess(() =>
      this.engine.nix.run(
        ["build", "--no-write-lock-file", "--no-link", "--json", hostInstallable(this.flake, host)],
        {
          signal: this.options.signal,
        },
      ),
    );
    const [entry] = result.exitCode === 0 ? (JSON.parse(result.stdout) as BuildEntry[]) : [];
    if (entry?.outputs.out) {
      chunk.values ??= Promise.resolve(new Map([[host, Promise.resolve({ drvPath: entry.drvPath })]]));
      return new Map([[host, Promise.resolve(entry.outputs.out)]]);
    }
    return this.buildChunk(chunk);
  }

  /** Builds derivations that are already evaluated: `nix build` of their outputs, no evaluation. */
  private async realise(
    drvs: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ outputs: Map<string, string>; stderr: string }> {
    if (drvs.length === 0) return { outputs: new Map(), stderr: "" };
    const { hasCaretOutputs } = await this.engine.nix.version();
    const installables = drvs.map((drv) => (hasCaretOutputs ? `${drv}^out` : drv));
    const result = await this.nixProcess(() =>
      this.engine.nix.run(["build", "--no-link", "--json", ...installables], { signal }),
    );
    const outputs = new Map<string, string>();
    if (result.exitCode === 0) {
      for (const entry of JSON.parse(result.stdout) as BuildEntry[])
        if (entry.outputs.out) outputs.set(entry.drvPath, entry.outputs.out);
    }
    return { outputs, stderr: result.stderr };
  }
}

/** The flake (maybe as it was at an earlier commit) has no configuration of that name. */
export class HostNotInFlake extends UserError {
  constructor(host: string, flake: string) {
    super(`${flake} has no nixosConfigurations.${JSON.stringify(host)}`, "choose a host the flake defines");
  }
}

/**
 * A host's result is awaited only when a phase reaches that host, maybe much later: its failure
 * is not an unhandled rejection in the meantime.
 */
function awaitedLater<T>(result: Promise<T>): Promise<T> {
  result.catch(() => {});
  return result;
}

/** A host whose configuration does not evaluate, with the command that shows the error again. */
export function evaluationFailed(host: string, flake: string, stderr: string): UserError {
  return new UserError(
    `evaluating ${host} failed:\n${nixErrorExcerpt(stderr)}`,
    `fix the error, then check with: nix eval ${hostInstallable(flake, host)}.drvPath`,
  );
}

function buildFailed(host: string, flake: string, stderr: string): UserError {
  return new UserError(
    `building ${host} failed:\n${nixErrorExcerpt(stderr)}`,
    `fix the error, then check with: nix build ${hostInstallable(flake, host)}`,
  );
}
