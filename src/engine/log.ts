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
/**
 * Values that are secrets whatever their key: PEM private keys, bearer credentials, GitHub tokens,
 * `NAME=secret` pairs (`GITHUB_TOKEN=...`, `--password=...`) and credentials in URLs. Every
 * quantifier that could meet a long run is bounded or anchored on a fixed prefix, so a string is
 * redacted in time linear in its length, whatever it holds.
 */
const SECRET_VALUE: Array<[RegExp, string | ((...groups: string[]) => string)]> = [
  [
    /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|$)/g,
    "[redacted]",
  ],
  [/\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, "[redacted]"],
  [/\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{16,}/g, "[redacted]"],
  // scheme://user:password@host keeps the user; https://token@host (a token as the user) goes whole.
  [
    /\b([a-z][a-z0-9+.-]{0,20}:\/\/)([^\s/@:]{1,256})(:[^\s/@]{1,256})?@/gi,
    (match, scheme, user, password) =>
      password !== undefined
        ? `${scheme}${user}:[redacted]@`
        : /^https?:\/\/$/i.test(scheme)
          ? `${scheme}[redacted]@`
          : match,
  ],
  [
    /\b([A-Za-z0-9_]{0,40}(?:token|passw(?:or)?d|passphrase|secret|api[-_]?key|credential|private[-_]?key)[A-Za-z0-9_]{0,40})(\s{0,4}[=:]\s{0,4})(?!\[redacted\])("[^"\n]{0,4096}"|'[^'\n]{0,4096}'|[^\s"',;&]{1,4096})/gi,
    (_match, name, sep) => `${name}${sep}[redacted]`,
  ],
];
/** 40 hex digits: a classic GitHub token, or SHA-1 sums such as git commits; see HEX_KEY. */
const HEX40 = /\b[0-9a-f]{40}\b/gi;
/** Keys whose 40-hex values are commits and revisions, not tokens: they stay readable. */
const HEX_KEY = /^(commit|rev|revision|sha|head|base|parent|locked_?rev)$/i;
export const CENSOR = "[redacted]";

export function redactString(value: string, hexIsRevision = false): string {
  let out = value;
  for (const [pattern, replacement] of SECRET_VALUE)
    out = out.replace(pattern, replacement as (substring: string, ...args: string[]) => string);
  return hexIsRevision ? out : out.replace(HEX40, CENSOR);
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
    copy[key] =
      isSecretKey(key) && inner !== undefined
        ? CENSOR
        : typeof inner === "string" && HEX_KEY.test(key)
          ? redactString(inner, true)
          : redactSecrets(inner, seen, depth + 1);
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
