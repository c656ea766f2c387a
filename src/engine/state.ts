import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { stateDir } from "./log.js";

/**
 * Writes a file so that a reader sees the old content or the new, never half of either: a temp file
 * beside it, then rename. The previous version is kept as FILE.bak. Mode 0600 unless told: state can name
 * hosts, paths and errors that are nobody else's business.
 */
export function writeFileAtomic(
  file: string,
  content: string | Uint8Array,
  options: { backup?: boolean; mode?: number } = {},
): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, content, { mode: options.mode ?? 0o600 });
  // writeFileSync's mode passes through the umask; a file the user owns (flake.lock) keeps its own.
  if (options.mode !== undefined) chmodSync(temp, options.mode);
  if ((options.backup ?? true) && existsSync(file)) copyFileSync(file, `${file}.bak`);
  renameSync(temp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Where deployment records live: one JSON file per deployment, written only by its own run. */
export function deploymentsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), "deployments");
}

export function listJsonFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** True when a process with this pid runs on this machine. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
