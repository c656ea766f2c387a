import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/** `$XDG_STATE_HOME/nix-deploy`, or `~/.local/state/nix-deploy`: state, logs and reports live here. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "nix-deploy");
}

/**
 * Keys whose values never reach a log, at any depth: tokens, passwords, authorization headers, key
 * material, cookies. Matched on the key's name, so `headers.Authorization`, `githubToken` and
 * `request.auth.password` are all caught; pino's redact paths cannot say "anywhere".
 */
const SECRET_KEY =
  /token|passw(or)?d|passphrase|secret|authorization|cookie|private_?key|api_?key|credential/i;
/** Keys that name where a secret comes from or lives, not the secret: `tokenSource`, `identityFile`. */
const SECRET_DESCRIPTION = /(source|file|path|count)$/i;
const isSecretKey = (key: string) => SECRET_KEY.test(key) && !SECRET_DESCRIPTION.test(key);
/** Values that are secrets whatever their key: PEM private keys and bearer credentials. */
const SECRET_VALUE = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{16,}/g,
];
export const CENSOR = "[redacted]";

function redactString(value: string): string {
  let out = value;
  for (const pattern of SECRET_VALUE) out = out.replace(pattern, CENSOR);
  return out;
}

/**
 * A copy of a log object with secrets replaced; the caller's object is left alone. Errors are kept
 * as errors (pino serializes them) with their message and stack redacted.
 */
export function redactSecrets(value: unknown, seen = new WeakSet<object>(), depth = 0): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value) || depth > 20) return "[circular or too deep]";
  seen.add(value);
  if (value instanceof Error) {
    const copy = new Error(redactString(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : redactString(value.stack);
    for (const [key, inner] of Object.entries(value))
      (copy as unknown as Record<string, unknown>)[key] = isSecretKey(key)
        ? CENSOR
        : redactSecrets(inner, seen, depth + 1);
    return copy;
  }
  if (Array.isArray(value)) return value.map((inner) => redactSecrets(inner, seen, depth + 1));
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value))
    copy[key] = isSecretKey(key) && inner !== undefined ? CENSOR : redactSecrets(inner, seen, depth + 1);
  return copy;
}

/** How many log files are kept (this run's included) unless NIX_DEPLOY_LOG_KEEP says otherwise. */
export const DEFAULT_LOG_KEEP = 50;
const LOG_FILE = /^nix-deploy-.*\.log$/;

/**
 * Deletes all but the newest `keep` run logs in `dir`. The names start with an ISO timestamp, so
 * their order is their age; files that are not run logs are never touched.
 */
export function pruneLogs(dir: string, keep: number): string[] {
  const logs = readdirSync(dir)
    .filter((name) => LOG_FILE.test(name))
    .sort();
  const removed = logs.slice(0, Math.max(0, logs.length - keep));
  for (const name of removed) rmSync(join(dir, name), { force: true });
  return removed;
}

function logKeep(env: NodeJS.ProcessEnv): number {
  const keep = Number(env.NIX_DEPLOY_LOG_KEEP ?? DEFAULT_LOG_KEEP);
  // A bad value must not delete every log: fall back to the default.
  return Number.isInteger(keep) && keep >= 1 ? keep : DEFAULT_LOG_KEEP;
}

export interface LogOptions {
  level?: string;
  /** The level for stderr when it differs from the file's: a CLI shows a person only warnings. */
  stderrLevel?: string;
  /** Where the log file goes; by default a timestamped file under the state directory. */
  file?: string | false;
  env?: NodeJS.ProcessEnv;
}

/**
 * A logger that writes to stderr and to a 0600 file, never to stdout: on the stdio server stdout is
 * the MCP protocol and one stray line breaks the client. Each run gets its own timestamped file;
 * older ones beyond NIX_DEPLOY_LOG_KEEP are pruned here.
 */
export function createLogger(options: LogOptions = {}): { log: Logger; file?: string } {
  const env = options.env ?? process.env;
  const level = options.level ?? env.LOG_LEVEL ?? "info";
  const stderrLevel = options.stderrLevel ?? level;
  const streams: pino.StreamEntry[] = [
    { level: stderrLevel as pino.Level, stream: pino.destination({ fd: 2, sync: true }) },
  ];
  let file: string | undefined;
  if (options.file !== false) {
    const dir = join(stateDir(env), "logs");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode does not apply to a directory that already existed with looser permissions.
    chmodSync(dir, 0o700);
    file =
      options.file ??
      join(dir, `nix-deploy-${new Date().toISOString().replaceAll(":", "-")}-${process.pid}.log`);
    // Create the file 0600 before pino opens it, so no window exists in which it is world-readable.
    closeSync(openSync(file, "a", 0o600));
    chmodSync(file, 0o600);
    if (options.file === undefined) pruneLogs(dir, logKeep(env));
    streams.push({
      level: level as pino.Level,
      stream: pino.destination({ dest: file, sync: true, mkdir: true }),
    });
  }
  const log = pino(
    {
      // The logger lets through what the most talkative stream wants; each stream filters the rest.
      level: (pino.levels.values[stderrLevel] ?? 0) < (pino.levels.values[level] ?? 0) ? stderrLevel : level,
      base: { pid: process.pid },
      formatters: { log: (object) => redactSecrets(object) as Record<string, unknown> },
    },
    pino.multistream(streams),
  );
  return { log, file };
}
