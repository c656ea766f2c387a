import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { hostCommand } from "../host/scripts.js";
import { connectionFailureReason } from "../remote/ssh.js";
import { keyContent } from "./content.js";
import { describeKey, type HostKey, type KeyDescription } from "./key.js";

export interface UploadHooks {
  signal?: AbortSignal;
  /** One line per key, already about this host: `uploading key db to /run/keys/db`. */
  step?: (message: string) => void;
}

/**
 * Uploads keys of a host one after another and describes them. The first failure stops the host: a
 * deployment must not activate with a key missing.
 */
export async function uploadHostKeys(
  engine: Engine,
  host: Host,
  keys: HostKey[],
  hooks: UploadHooks = {},
): Promise<KeyDescription[]> {
  const uploaded: KeyDescription[] = [];
  for (const key of keys) {
    hooks.step?.(`uploading key ${key.name} to ${describeKey(key).destination}`);
    const content = await keyContent(key, hooks.signal);
    await uploadKey(engine, host, key, content, hooks.signal);
    uploaded.push(describeKey(key, content.length));
  }
  if (uploaded.length)
    engine.log.info({ host: host.name, keys: uploaded.map((k) => k.name) }, "keys uploaded");
  return uploaded;
}

/**
 * Writes one key on the host with upload-key.sh, through the host's remote-run path (and its
 * privilege escalation where the login is not root). The content travels on ssh's stdin only:
 * never in an argument, a file here, or the Nix store.
 */
export async function uploadKey(
  engine: Engine,
  host: Host,
  key: HostKey,
  content: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  const args = [key.destDir, key.name, key.user, key.group, key.permissions];
  if (key.action) args.push(key.action.verb, key.action.unit);
  // Root writes the key and sets its owner; a login user gains it through the host's escalation.
  const result = await engine.connect(host).run(hostCommand("upload-key", "nix-deploy-upload-key", args), {
    root: true,
    input: content,
    timeoutMs: 120_000,
    signal,
  });
  if (result.exitCode === 0) return;
  const where = `key ${key.name} (${key.field})`;
  if (result.connectionFailed)
    throw new UserError(
      `uploading ${where} to ${host.name} failed: ${connectionFailureReason(result)}`,
      `check that ${host.ssh.destination} is reachable over ssh`,
    );
  if (result.exitCode === 3 || result.exitCode === 4) {
    const [kind, name] = result.exitCode === 3 ? ["user", key.user] : ["group", key.group];
    throw new UserError(
      `${where}: the ${kind} ${name} does not exist on ${host.name}; nothing was written`,
      `correct ${key.field}.${kind}, or create the ${kind} in ${host.name}'s configuration; if the new system creates it, set uploadAt: "post-activation"`,
    );
  }
  const detail = result.stderr.trim().split("\n").slice(-3).join("; ");
  if (result.exitCode === 5 && key.action)
    throw new UserError(
      `${where} is in place on ${host.name}, but ${key.action.verb === "reload" ? "reloading" : "restarting"} ${key.action.unit} failed: ${detail}`,
      `check ${key.action.unit} on ${host.name} (journalctl -u ${key.action.unit})`,
    );
  throw new UserError(
    `uploading ${where} to ${host.name} failed (exit ${result.exitCode}): ${detail || "no message"}`,
    `check ${key.destDir} on ${host.name} (a read-only or full file system, a directory named ${key.name})`,
  );
}
