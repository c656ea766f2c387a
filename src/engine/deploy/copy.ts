import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { nixErrorExcerpt } from "../nix.js";
import { sshOptionArgs } from "../remote/ssh.js";
import { withRetry } from "../retry.js";
import { checkPrivateFile } from "../trust.js";

/**
 * Getting a built system into a host's store. From this machine: `nix copy --to ssh://HOST`, signed
 * first when the inventory names a signing key (a login user the host's nix-daemon does not trust
 * may only add signed paths). From a build host: straight from there to the host when the build
 * host can reach it, as nixos-rebuild-ng does, else through this machine's store. A local host
 * shares this machine's store: nothing to copy.
 */

export interface CopyOptions {
  substituteOnDestination?: boolean;
  signal?: AbortSignal;
  /** The build host whose store holds the path (it was built there), when not this machine. */
  from?: Host;
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
      if (target && !host.signingKey && (await copyFromBuildHost(engine, options.from, host, path, options)))
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
  if (host.signingKey) await signClosure(engine, host.signingKey, path, options.signal);
  const sshOptions = target.env.NIX_SSHOPTS ?? "";
  const spaced = sshOptions.split(" ").find((o) => o !== "" && /\s/.test(o));
  if (spaced)
    throw new UserError(
      `the ssh option "${spaced}" contains whitespace, which nix copy cannot pass on`,
      "use paths without spaces for keys and known_hosts files",
    );
  await runNixCopy(
    engine,
    [
      "copy",
      "--to",
      target.uri,
      ...(options.substituteOnDestination ? ["--substitute-on-destination"] : []),
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
  return notes;
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
): Promise<void> {
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
  if (result.exitCode === 0) return;
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
