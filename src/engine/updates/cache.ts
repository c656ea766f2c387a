import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Answers kept on disk for a while, so a repeated check costs no request against GitHub's search
 * limit (10 a minute unauthenticated). One 0600 file per key under a 0700 directory; each written to
 * a temporary file and renamed, so a reader never sees half an answer and two servers never mix theirs.
 */
export class AnswerCache<T> {
  constructor(
    readonly dir: string,
    /** How long an answer stays good, in milliseconds; 0 turns the cache off. */
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private fileFor(key: string): string {
    return join(this.dir, `${createHash("sha256").update(key).digest("hex").slice(0, 32)}.json`);
  }

  /** The stored answer for key when younger than the TTL; undefined when absent, stale or unreadable. */
  get(key: string): { value: T; storedAt: number } | undefined {
    if (this.ttlMs <= 0) return undefined;
    let entry: { key: string; storedAt: number; value: T };
    try {
      entry = JSON.parse(readFileSync(this.fileFor(key), "utf8"));
    } catch {
      return undefined;
    }
    // The key is stored too: a hash collision or a foreign file must not answer for another query.
    if (entry.key !== key || typeof entry.storedAt !== "number") return undefined;
    if (this.now() - entry.storedAt > this.ttlMs) return undefined;
    return { value: entry.value, storedAt: entry.storedAt };
  }

  set(key: string, value: T): void {
    if (this.ttlMs <= 0) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileFor(key);
    const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify({ key, storedAt: this.now(), value }), { mode: 0o600, flag: "wx" });
      renameSync(temp, file);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }
}
