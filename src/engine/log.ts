import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/** `$XDG_STATE_HOME/nix-deploy`, or `~/.local/state/nix-deploy`: state, logs and reports live here. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "nix-deploy");
}

/** Fields whose values never reach a log: tokens, passwords, authorization headers, key material. */
export const REDACTED_FIELDS = [
  "token",
  "*.token",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "secret",
  "*.secret",
  "privateKey",
  "*.privateKey",
];

export interface LogOptions {
  level?: string;
  /** Where the log file goes; by default a timestamped file under the state directory. */
  file?: string | false;
  env?: NodeJS.ProcessEnv;
}

/**
 * A logger that writes to stderr and to a 0600 file, never to stdout: on the stdio server stdout is
 * the MCP protocol and one stray line breaks the client.
 */
export function createLogger(options: LogOptions = {}): { log: Logger; file?: string } {
  const env = options.env ?? process.env;
  const level = options.level ?? env.LOG_LEVEL ?? "info";
  const streams: pino.StreamEntry[] = [
    { level: level as pino.Level, stream: pino.destination({ fd: 2, sync: true }) },
  ];
  let file: string | undefined;
  if (options.file !== false) {
    const dir = join(stateDir(env), "logs");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    file =
      options.file ??
      join(dir, `nix-deploy-${new Date().toISOString().replaceAll(":", "-")}-${process.pid}.log`);
    // Create the file 0600 before pino opens it, so no window exists in which it is world-readable.
    closeSync(openSync(file, "a", 0o600));
    chmodSync(file, 0o600);
    streams.push({
      level: level as pino.Level,
      stream: pino.destination({ dest: file, sync: true, mkdir: true }),
    });
  }
  const log = pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACTED_FIELDS, censor: "[redacted]" } },
    pino.multistream(streams),
  );
  return { log, file };
}
