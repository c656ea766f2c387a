import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { nixErrorExcerpt } from "../nix.js";
import { sshOptionArgs } from "../remote/ssh.js";
import { withRetry } from "../retry.js";
import { checkPrivateFile } from "../trust.js";
import { CachePushes, cacheLabel, copiedPaths } from "./cache.js";

/**
 * Getting a built system into a host's store. From this machine: `nix copy --to ssh://HOST`, signed
 * first when the inventory names a signing key (a login user the host's nix-daemon does not trust
 * may only add signed paths). From a build host: straight from there to the host when the build
 * host can reach it, as nixos-rebuild-ng does, else through this machine's store. A local host
 * shares this machine's store: nothing to copy. With a binary cache (inventory `cache`), the closure
 * is pushed there once for the deployment and the host substitutes from it (./cache.ts).
 */

export interface CopyOptions {
  substituteOnDestination?: boolean;
  signal?: AbortSignal;
  /** The build host whose store holds the path (it was built there), when not this machine. */
  from?: Host;
  /** The deployment's pushes to binary caches: with a host cache, each closure is pushed once. */
  cachePushes?: CachePushes;
}

/** Copies `path`'s closure to the host; returns notes on the way it went, for the result. */
export async function copyClosure(
  engine: Engine,
  host: Host,
  path: string,
  options: CopyOptions = {},
): Promise<string[]> {
  const notes: string[] = [];
  const target = engine.connect(host).store();
  // A host that built its own system holds it already.
  if (options.from?.name === host.name) return [`built on ${host.name} itself`];
  if (options.from) {
    const builderStore = engine.connect(options.from).store();
    // A build host that is this machine left the path in this store already.
    if (builderStore) {
      if (
        target &&
        !host.signingKey &&
        !host.cache &&
        (await copyFromBuildHost(engine, options.from, host, path, options))
      )
        return [`copied from ${options.from.name} straight to ${host.name}`];
      await runNixCopy(engine, ["copy", "--no-check-sigs", "--from", builderStore.uri, path], {
        env: builderStore.env,
        signal: options.signal,
        failure: `copying the system from ${options.from.name} to this machine failed`,
        remedy: `check ssh access to ${options.from.name}`,
        host: options.from.name,
      });
      if (target) notes.push(`copied from ${options.from.name} to ${host.name} through this machine`);
    }
  }
  if (!target) return notes;
  const cached = host.cache ? await pushToCache(engine, host, host.cache, path, options, notes) : false;
  if (host.signingKey && !cached) await signClosure(engine, host.signingKey, path, options.signal);
  const sshOptions = target.env.NIX_SSHOPTS ?? "";
  const spaced = sshOptions.split(" ").find((o) => o !== "" && /\s/.test(o));
  if (spaced)
    throw new UserError(
      `the ssh option "${spaced}" contains whitespace, which nix copy cannot pass on`,
      "use paths without spaces for keys and known_hosts files",
    );
  const copied = await runNixCopy(
    engine,
    [
      "copy",
      "--to",
      target.uri,
      ...(options.substituteOnDestination || cached ? ["--substitute-on-destination"] : []),
      path,
    ],
    {
      env: target.env,
      signal: options.signal,
      failure: `copying the system to ${host.name} failed`,
      remedy: `check ssh access to ${host.ssh.destination} and free space in its /nix`,
      host: host.name,
      user: host.user,
    },
  );
  if (cached && host.cache) notes.push(substitutionNote(host.name, cacheLabel(host.cache), copied.stderr));
  return notes;
}

/**
 * Pushes the closure to the host's cache, once for the deployment (signed first when the host has a
 * signing key; a cache URL with secret-key= is signed by nix as it writes). False, with a note,
 * when the push failed: the host is then copied to from here as without a cache.
 */
async function pushToCache(
  engine: Engine,
  host: Host,
  cache: string,
  path: string,
  options: CopyOptions,
  notes: string[],
): Promise<boolean> {
  const pushes = options.cachePushes ?? new CachePushes();
  try {
    await pushes.once(cache, path, host.signingKey, async () => {
      if (host.signingKey) await signClosure(engine, host.signingKey, path, options.signal);
      await runNixCopy(engine, ["copy", "--to", cache, path], {
        env: {},
        signal: options.signal,
        failure: `pushing the system to the cache ${cacheLabel(cache)} failed`,
        remedy: "check that this machine can write to the cache",
        host: host.name,
      });
      engine.log.info({ cache: cacheLabel(cache), path }, "pushed to the cache");
    });
    return true;
  } catch (error) {
    engine.log.warn({ host: host.name, error: describeError(error) }, "cache push failed; copying directly");
    notes.push(
      `pushing to ${cacheLabel(cache)} failed, so the system was copied to ${host.name} from here: ${describeError(error).split("\n")[0]}`,
    );
    return false;
  }
}

/** What the copy to the host says about the cache: substituted from it, or copied from here. */
function substitutionNote(host: string, cache: string, stderr: string): string {
  const { copied, reported } = copiedPaths(stderr);
  if (copied === 0)
    return reported
      ? `pushed to ${cache} once; ${host} substituted from it`
      : `pushed to ${cache} once; ${host} substituted what it could from it`;
  // Some paths came from the cache and some from here: the host lacks a setting, or the cache a path.
  return `pushed to ${cache} once, but ${host} did not substitute ${copied} path(s) from it: they were copied from here (preflight names the nix.settings ${host} lacks)`;
}

async function runNixCopy(
  engine: Engine,
  args: string[],
  context: {
    env: Record<string, string>;
    signal?: AbortSignal;
    failure: string;
    remedy: string;
    host: string;
    user?: string;
  },
): Promise<{ stderr: string }> {
  const result = await withRetry(() => engine.nix.run(args, { signal: context.signal, env: context.env }), {
    attempts: 3,
    baseDelayMs: 1000,
    signal: context.signal,
    retryable: ({ result: r }) =>
      (r as { exitCode: number; stderr: string } | undefined)?.exitCode !== 0 &&
      /ssh|connect|Connection|broken pipe|end of file/i.test((r as { stderr: string }).stderr) &&
      !UNSIGNED.test((r as { stderr: string }).stderr),
    onRetry: (attempt, delay) =>
      engine.log.warn({ host: context.host, attempt, delay }, "copy failed, retrying"),
  });
  if (result.exitCode === 0) return result;
  if (UNSIGNED.test(result.stderr) && context.user)
    throw new UserError(
      `${context.host} refused the system: ${context.user} is not a trusted user of its nix-daemon, and the paths carry no signature it trusts`,
      untrustedRemedy(context.host, context.user),
    );
  throw new UserError(`${context.failure}:\n${nixErrorExcerpt(result.stderr)}`, context.remedy);
}

/** What nix-daemon says when an untrusted user adds a path without a trusted signature. */
export const UNSIGNED = /lacks a (valid )?signature by a trusted key|lacks a valid signature/;

/** The two ways to let a login user's copy in, for an error or a preflight check. */
export function untrustedRemedy(host: string, user: string): string {
  return `on ${host}, add ${user} to nix.settings.trusted-users; or sign the closure: set signingKey (a Nix secret key file, nix key generate-secret) in the inventory or pass --signing-key, and add its public key to nix.settings.trusted-public-keys on ${host}`;
}

/** `nix store sign` over the closure, with a key file only this user can read. */
async function signClosure(engine: Engine, keyFile: string, path: string, signal?: AbortSignal) {
  checkPrivateFile(keyFile, "the signing key");
  const result = await engine.nix.run(["store", "sign", "--key-file", keyFile, "--recursive", path], {
    signal,
  });
  if (result.exitCode !== 0)
    throw new UserError(
      `signing the system with ${keyFile} failed:\n${nixErrorExcerpt(result.stderr)}`,
      "check that the file is a Nix secret key (nix key generate-secret) and that this user may sign paths in the local store",
    );
}

/**
 * The build host copies straight to the target with its own ssh credentials: the address and port
 * the inventory gives, but never this machine's key or known_hosts files, which are not there. False
 * when it could not (no key of its own, the target unreachable from there).
 */
async function copyFromBuildHost(
  engine: Engine,
  builder: Host,
  host: Host,
  path: string,
  options: CopyOptions,
): Promise<boolean> {
  const ssh = sshOptionArgs(
    { ...host.ssh, identityFile: undefined, knownHostsFile: undefined },
    { connectTimeoutSec: 5, controlDir: "", controlPersistSec: 0 },
    false,
  );
  if (ssh.some((o) => /\s/.test(o))) return false;
  const result = await engine
    .connect(builder)
    .run(
      [
        "env",
        `NIX_SSHOPTS=${ssh.join(" ")}`,
        "nix",
        "--extra-experimental-features",
        "nix-command",
        "copy",
        "--to",
        `ssh://${host.ssh.destination}`,
        ...(options.substituteOnDestination ? ["--substitute-on-destination"] : []),
        path,
      ],
      { timeoutMs: 3_600_000, signal: options.signal },
    );
  if (result.exitCode !== 0)
    engine.log.info(
      { host: host.name, builder: builder.name, reason: nixErrorExcerpt(result.stderr, 3) },
      "the build host could not copy to the host itself; going through this machine",
    );
  return result.exitCode === 0;
}
