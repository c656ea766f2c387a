import { z } from "zod";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { discoverFleet, type Host, selectFlakeHosts, selectHost } from "../fleet/hosts.js";
import { operation } from "../hooks.js";
import { hostInstallable, nixErrorExcerpt } from "../nix.js";
import { mapLimit } from "../process.js";
import { hostSelectorAllByDefault, nextSchema } from "../schemas.js";
import { evaluationFailed, fleetEvaluationLimits, HostEvaluation } from "./evaluation.js";

export const testBuildOptionsSchema = z.object({
  hosts: hostSelectorAllByDefault,
  buildHost: z
    .string()
    .optional()
    .describe("build on this host of the fleet and copy the result back (like --build-host)"),
});
export type TestBuildOptions = z.infer<typeof testBuildOptionsSchema> & { flake?: string };

export const testBuildResultSchema = z.object({
  status: z.enum(["succeeded", "failed"]),
  summary: z.string(),
  hosts: z.array(
    z.object({
      host: z.string(),
      ok: z.boolean(),
      storePath: z.string().optional(),
      buildTimeMs: z.number(),
      closureSizeBytes: z.number().optional(),
      failingDerivation: z.string().optional(),
      error: z.string().optional().describe("the last lines of Nix's error"),
    }),
  ),
  next: nextSchema,
});
export type TestBuildResult = z.infer<typeof testBuildResultSchema>;

/** The derivation Nix names in `builder for '/nix/store/...drv' failed`. */
export function failingDerivation(stderr: string): string | undefined {
  return /(?:builder for|build of) '(\/nix\/store\/[^']+\.drv)' failed/.exec(stderr)?.[1];
}

/**
 * Builds each host's system without deploying it: locally, or on a build host (the derivation is
 * copied there, built there, and the result copied back), in parallel with the engine's limit.
 */
export const testBuild = operation<TestBuildOptions, TestBuildResult>(async (engine, options, hooks) => {
  const fleet = await discoverFleet(engine, { flake: options.flake, signal: hooks.signal });
  const hosts = selectFlakeHosts(fleet, options.hosts ?? ["all"]);
  const builder = options.buildHost ? selectHost(fleet, options.buildHost, "build host") : undefined;
  // The hosts are evaluated together, in chunks, as a deployment evaluates them (evaluation.ts).
  const evaluation = new HostEvaluation(
    engine,
    fleet.flake,
    hosts.map((h) => h.name),
    {
      ...fleetEvaluationLimits(engine.env, fleet.limits),
      builtHere: builder ? new Set() : undefined,
      signal: hooks.signal,
    },
  );
  const results = await mapLimit(hosts, engine.parallelism, async (host) => {
    const started = Date.now();
    hooks.progress(`${host.name}: building${builder ? ` on ${builder.name}` : ""}`);
    try {
      const storePath = builder
        ? await fetchFromBuildHost(
            engine,
            builder,
            await realiseOnHost(
              engine,
              fleet.flake,
              host.name,
              builder,
              hooks.signal,
              evaluation.derivation(host.name),
            ),
            hooks.signal,
          )
        : await evaluation.build(host.name);
      const [info] = await engine.nix.pathInfo([storePath], { closureSize: true });
      hooks.progress(`${host.name}: built`);
      return {
        host: host.name,
        ok: true,
        storePath,
        buildTimeMs: Date.now() - started,
        closureSizeBytes: info?.closureSize,
      };
    } catch (error) {
      const text = describeError(error);
      hooks.progress(`${host.name}: build failed`);
      return {
        host: host.name,
        ok: false,
        buildTimeMs: Date.now() - started,
        failingDerivation: failingDerivation(text),
        error: text,
      };
    }
  });
  const failed = results.filter((r) => !r.ok);
  return {
    status: failed.length ? "failed" : "succeeded",
    summary: failed.length
      ? `${failed.length} of ${results.length} failed: ${failed.map((r) => r.host).join(", ")}`
      : `${results.length} built`,
    hosts: results,
    next: failed.length
      ? "fix the build errors shown, then build again"
      : "deploy when ready; deploy skips hosts whose system did not change",
  };
});

/**
 * A host's system derivation, evaluated without building. Never writes a lock: on the user's own
 * flake an outdated lock is resolved in memory, as the build would, and left as it is on disk.
 */
export async function derivationOf(
  engine: Engine,
  flake: string,
  host: string,
  signal?: AbortSignal,
): Promise<string> {
  const installable = `${hostInstallable(flake, host)}.drvPath`;
  const result = await engine.nix.run(["eval", "--no-write-lock-file", "--raw", installable], { signal });
  if (result.exitCode !== 0) throw evaluationFailed(host, flake, result.stderr);
  return result.stdout.trim();
}

/** Copies what a build host built into this machine's store (test_build reports on it here). */
async function fetchFromBuildHost(
  engine: Engine,
  builder: Host,
  out: string,
  signal?: AbortSignal,
): Promise<string> {
  const store = engine.connect(builder).store();
  if (!store) return out;
  const fetched = await engine.nix.run(["copy", "--no-check-sigs", "--from", store.uri, out], {
    signal,
    env: store.env,
  });
  if (fetched.exitCode !== 0)
    throw new UserError(
      `copying ${out} back from ${builder.name} failed:\n${nixErrorExcerpt(fetched.stderr)}`,
    );
  return out;
}

/**
 * Builds a host's system on a build host: the derivation is evaluated here, copied there and
 * realised there. Returns the system's store path, which is in the build host's store only.
 */
export async function realiseOnHost(
  engine: Engine,
  flake: string,
  host: string,
  builder: Host,
  signal?: AbortSignal,
  /** The host's system derivation when it is already evaluated (a deployment's chunk): no second evaluation. */
  evaluated?: Promise<string>,
): Promise<string> {
  const drvPath = await (evaluated ?? derivationOf(engine, flake, host, signal));
  const connection = engine.connect(builder);
  const store = connection.store();
  if (store) {
    const sent = await engine.nix.run(["copy", "--derivation", "--to", store.uri, drvPath], {
      signal,
      env: store.env,
    });
    if (sent.exitCode !== 0)
      throw new UserError(
        `copying the derivation to ${builder.name} failed:\n${nixErrorExcerpt(sent.stderr)}`,
        `a build host must accept the derivation from ${builder.user}: add ${builder.user} to nix.settings.trusted-users on ${builder.name}`,
      );
  }
  const built = await connection.run(["nix-store", "--realise", drvPath], { signal, timeoutMs: 3_600_000 });
  if (built.exitCode !== 0) {
    throw new UserError(
      `building ${host} on ${builder.name} failed:\n${nixErrorExcerpt(built.stderr)}`,
      `fix the error; the build ran on ${connection.where}`,
    );
  }
  return built.stdout.trim().split("\n").at(-1) as string;
}
