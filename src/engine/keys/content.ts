import { readFile, stat } from "node:fs/promises";
import { UserError } from "../errors.js";
import type { HostKey } from "./key.js";

/** How long a keyCommand (a password manager, `sops -d`, `vault read`) may take. */
const KEY_COMMAND_TIMEOUT_MS = 120_000;

/**
 * A key's content, as bytes: its text, its file, or what its keyCommand prints, run here on the
 * deployer with an argument list (no shell). Errors name the key and the cause, never the content
 * or the command's output, which may hold the secret or part of it.
 */
export async function keyContent(key: HostKey, signal?: AbortSignal): Promise<Buffer> {
  const { source } = key;
  if (source.kind === "text") return Buffer.from(source.text, "utf8");
  if (source.kind === "keyFile") return readKeyFile(key, source.path);
  const [program = "", ...args] = source.argv;
  const { execa } = await import("execa");
  const result = await execa(program, args, {
    cwd: source.cwd,
    reject: false,
    encoding: "buffer",
    stdin: "ignore",
    stdout: "pipe",
    // Its complaints could quote what it decrypted: they are not kept anywhere.
    stderr: "ignore",
    timeout: KEY_COMMAND_TIMEOUT_MS,
    cancelSignal: signal,
    stripFinalNewline: false,
  });
  if (!result.failed) return Buffer.from(result.stdout as Uint8Array);
  const why =
    result.timedOut === true
      ? `did not finish within ${KEY_COMMAND_TIMEOUT_MS / 1000} s`
      : result.isCanceled
        ? "was cancelled"
        : typeof result.exitCode === "number"
          ? `exited with status ${result.exitCode}`
          : result.signal
            ? `was killed by ${result.signal}`
            : `could not be started (${(result.cause as NodeJS.ErrnoException | undefined)?.code ?? "unknown error"}: is ${program} installed here?)`;
  throw new UserError(
    `key ${key.name}: its keyCommand (${program}) ${why}; its output is not shown, as it may hold the secret`,
    `run the keyCommand of ${key.field} yourself and fix it, then try again`,
  );
}

async function readKeyFile(key: HostKey, path: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error("not a regular file");
    return await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UserError(
      `key ${key.name}: cannot read its keyFile ${path} (${reason})`,
      `check ${key.field}.keyFile`,
    );
  }
}
