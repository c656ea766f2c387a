import { describeError, UserError } from "../errors.js";
import { discoverFleet, type Host, selectHosts } from "../fleet/hosts.js";
import { operation } from "../hooks.js";
import { mapLimit } from "../process.js";
import type { UploadKeysOptions, UploadKeysResult } from "./schemas.js";
import { uploadHostKeys } from "./upload.js";

/**
 * Uploads the selected hosts' keys now, whatever their uploadAt (as colmena's upload-keys does):
 * rotation without a deployment. Nothing is activated, built or copied.
 */
export const uploadKeys = operation<UploadKeysOptions, UploadKeysResult>(async (engine, options, hooks) => {
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
});
