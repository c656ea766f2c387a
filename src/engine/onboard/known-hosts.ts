import { createHmac } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { writeFileAtomic } from "../state.js";

/**
 * known_hosts entries for one host, as ssh looks them up: `address` for port 22, `[address]:port`
 * otherwise; hashed entries (`|1|salt|hash`, HashKnownHosts) match when the HMAC of the name does.
 */
export function knownHostsName(destination: string, port?: number): string {
  const address = destination.replace(/^[^@]*@/, "");
  return port === undefined || port === 22 ? address : `[${address}]:${port}`;
}

function namesMatch(field: string, name: string): boolean {
  return field.split(",").some((pattern) => {
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(pattern);
    if (!hashed) return pattern === name;
    const digest = createHmac("sha1", Buffer.from(hashed[1] as string, "base64"))
      .update(name)
      .digest("base64");
    return digest === hashed[2];
  });
}

/** The lines of `text` that are entries for `name` (markers such as @revoked are not). */
export function entriesFor(text: string, name: string): string[] {
  return text.split("\n").filter((line) => {
    const [field] = line.trim().split(/\s+/);
    return field !== undefined && !field.startsWith("#") && !field.startsWith("@") && namesMatch(field, name);
  });
}

/**
 * Adds `name publicKey` to a known_hosts file, atomically, the previous file kept as FILE.bak.
 * `replace` drops the name's other entries (a reinstalled machine's old keys must stop verifying).
 */
export function recordHostKey(file: string, name: string, publicKey: string, replace: boolean): void {
  const before = existsSync(file) ? readFileSync(file, "utf8") : "";
  const drop = new Set(replace ? entriesFor(before, name) : []);
  const kept = before.split("\n").filter((line) => line.trim() !== "" && !drop.has(line));
  const entry = `${name} ${publicKey}`;
  const lines = kept.includes(entry) ? kept : [...kept, entry];
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o644;
  writeFileAtomic(file, `${lines.join("\n")}\n`, { backup: true, mode });
}

/** `ssh-ed25519 AAAA...` of a .pub file, without its comment. */
export function publicKeyOf(pubFileText: string): string {
  return pubFileText.trim().split(/\s+/).slice(0, 2).join(" ");
}
