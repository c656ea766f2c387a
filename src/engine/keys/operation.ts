import { z } from "zod";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { discoverFleet, type Host, selectHosts } from "../fleet/hosts.js";
import { mapLimit } from "../process.js";
import { keyDescriptionSchema } from "./key.js";
import { uploadHostKeys } from "./upload.js";

export const uploadKeysOptionsSchema = z.object({
  hosts: z.array(z.string().min(1)).min(1).describe('host names, @tag, or "all"'),
  keys: z.array(z.string().min(1)).min(1).optional().describe("only these keys (default all)"),
});
export type UploadKeysOptions = z.infer<typeof uploadKeysOptionsSchema> & { flake?: string };

export const uploadKeysResultSchema = z.object({
  status: z.enum(["succeeded", "failed"]),
  summary: z.string(),
  hosts: z.array(
    z.object({
      host: z.string(),
      outcome: z.enum(["uploaded", "failed", "no keys"]),
      keys: z.array(keyDescriptionSchema).describe("name, destination, mode, owner, size; never content"),
      error: z.string().optional(),
    }),
  ),
  next: z.string(),
});
export type UploadKeysResult = z.infer<typeof uploadKeysResultSchema>;

/**
 * Uploads the selected hosts' keys now, whatever their uploadAt (as colmena's upload-keys does):
 * rotation without a deployment. Nothing is activated, built or copied.
 */
export async function uploadKeys(
  engine: Engine,
  options: UploadKeysOptions,
  hooks: { signal?: AbortSignal; progress?: (message: string) => void } = {},
): Promise<UploadKeysResult> {
  const fleet = await discoverFleet(engine, { flake: options.flake, signal: hooks.signal });
  const hosts = selectHosts(fleet, options.hosts);
  const wanted = options.keys && new Set(options.keys);
  if (wanted) {
    const known = new Set(hosts.flatMap((host) => host.keys.map((key) => key.name)));
    const unknown = [...wanted].filter((name) => !known.has(name));
    if (unknown.length)
      throw new UserError(
        `unknown key ${unknown.map((n) => JSON.stringify(n)).join(", ")} for ${hosts.map((h) => h.name).join(", ")}`,
        known.size
          ? `the keys these hosts have: ${[...known].sort().join(", ")}`
          : "these hosts have no keys; add them under keys in nix-deploy.json",
      );
  }
  const results = await mapLimit(hosts, engine.parallelism, async (host: Host) => {
    const keys = host.keys.filter((key) => !wanted || wanted.has(key.name));
    if (keys.length === 0) return { host: host.name, outcome: "no keys" as const, keys: [] };
    try {
      const uploaded = await uploadHostKeys(engine, host, keys, {
        signal: hooks.signal,
        step: (message) => hooks.progress?.(`${host.name}: ${message}`),
      });
      return { host: host.name, outcome: "uploaded" as const, keys: uploaded };
    } catch (error) {
      return { host: host.name, outcome: "failed" as const, keys: [], error: describeError(error) };
    }
  });
  const failed = results.filter((r) => r.outcome === "failed").map((r) => r.host);
  const uploaded = results.filter((r) => r.outcome === "uploaded");
  return {
    status: failed.length ? "failed" : "succeeded",
    summary: [
      `${uploaded.reduce((n, r) => n + r.keys.length, 0)} key(s) uploaded to ${uploaded.length} host(s)`,
      ...(failed.length ? [`failed: ${failed.join(", ")}`] : []),
    ].join("; "),
    hosts: results,
    next: failed.length
      ? "fix what the errors name, then call upload_keys again for those hosts"
      : "services read the new keys when they reload; give a key an action to reload its service",
  };
}
