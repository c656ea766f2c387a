/**
 * Push once, pull many: a deployment with a binary cache pushes each built system closure to it once
 * (`nix copy --to CACHE`, signed first), and each host then fetches from it (`nix copy --to
 * ssh://HOST --substitute-on-destination`), so the deployer's uplink carries each path once for the
 * fleet, and to a host only what the host could not substitute. The nix calls are in ./copy.ts;
 * here are the rules: which URLs are caches, which cache a deployment uses, what a host must trust.
 *
 * The inventory is trusted, tool input is not: the input may only name a cache the inventory
 * declares (or "none"), so an assistant cannot be steered into pushing a fleet's closures elsewhere.
 */
import { UserError } from "../errors.js";

/** Stores `nix copy --to` writes to. An http(s) cache is read over the web: nothing to push to. */
export const PUSHABLE_CACHE_SCHEMES = ["file", "ssh", "ssh-ng", "s3"] as const;

const SSH_AUTHORITY = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9[][A-Za-z0-9_.:%[\]-]*$/;

/** Why `url` is not a binary cache a deployment can push to, or undefined when it is one. */
export function cacheUrlProblem(url: string): string | undefined {
  if (/[\s\0-\x1f\x7f]/.test(url)) return "it contains whitespace or a control character";
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^?#]*)(?:\?([^#]*))?$/.exec(url);
  if (!match)
    return "it is not a store URL such as file:///var/cache/nix, ssh-ng://cache.example or s3://bucket";
  const [, scheme = "", where = "", query] = match;
  if (scheme === "http" || scheme === "https")
    return `an ${scheme}:// cache is read over the web, so closures cannot be pushed to it; push to the store behind it (file://, ssh://, ssh-ng:// or s3://)`;
  if (!(PUSHABLE_CACHE_SCHEMES as readonly string[]).includes(scheme))
    return `${scheme}:// is not a cache closures can be pushed to: use file://, ssh://, ssh-ng:// or s3://`;
  if (scheme === "file" && (!where.startsWith("/") || where.split("/").includes("..")))
    return "a file:// cache is an absolute path without '..': file:///path";
  if ((scheme === "ssh" || scheme === "ssh-ng") && !SSH_AUTHORITY.test(where))
    return `an ${scheme}:// cache is ${scheme}://[user@]host (letters, digits, '.', '-', ':'), not starting with '-'`;
  if (scheme === "s3" && !/^[a-z0-9][a-z0-9.-]{1,62}$/.test(where))
    return "an s3:// cache is s3://bucket (lower-case letters, digits, '.', '-')";
  if (query !== undefined && !query.split("&").every((p) => /^[a-z][a-z0-9-]*=[^&=]*$/.test(p)))
    return "its parameters are name=value pairs joined by '&'";
  return undefined;
}

/** The URL without its parameters: what a host lists as a substituter, and what results show. */
export function cacheLabel(url: string): string {
  return url.replace(/\?.*$/, "").replace(/\/+$/, "");
}

/** The `secret-key` parameter of a cache URL: a secret key file nix signs what it pushes with. */
export function cacheSecretKey(url: string): string | undefined {
  const query = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
  for (const part of query.split("&"))
    if (part.startsWith("secret-key=")) return part.slice("secret-key=".length) || undefined;
  return undefined;
}

/** The deploy input's cache: "none", or a cache the inventory declares (by its URL or its label). */
export type CacheChoice = { kind: "inventory" } | { kind: "none" } | { kind: "use"; url: string };

export function chooseCache(declared: readonly string[], requested: string | undefined): CacheChoice {
  if (requested === undefined) return { kind: "inventory" };
  if (requested === "none") return { kind: "none" };
  const url = declared.find((d) => d === requested || cacheLabel(d) === cacheLabel(requested));
  if (url) return { kind: "use", url };
  const names = declared.map(cacheLabel);
  throw new UserError(
    `the cache ${JSON.stringify(requested)} is not one the inventory declares, and only those are pushed to`,
    names.length
      ? `name one of the inventory's caches (${names.join(", ")}) or "none"; a new cache goes in nix-deploy.json first`
      : 'the inventory declares no cache: add "cache" to its defaults or to a host in nix-deploy.json, or leave the cache out',
  );
}

/** The cache a host uses in a deployment: the input's choice over the inventory's own. */
export function hostCache(choice: CacheChoice, inventoryCache: string | undefined): string | undefined {
  return choice.kind === "use" ? choice.url : choice.kind === "none" ? undefined : inventoryCache;
}

/** Every distinct cache an inventory declares, in its defaults and its hosts. */
export function declaredCaches(inventory: {
  defaults?: { cache?: string };
  hosts?: Record<string, { cache?: string }>;
}): string[] {
  const all = [inventory.defaults?.cache, ...Object.values(inventory.hosts ?? {}).map((h) => h.cache)];
  return [...new Set(all.filter((c): c is string => c !== undefined))];
}

/**
 * One push per cache and closure for a whole deployment: hosts deploying the same system share the
 * first host's push (and its failure).
 */
export class CachePushes {
  private readonly pushes = new Map<string, Promise<void>>();

  once(
    cache: string,
    path: string,
    signingKey: string | undefined,
    push: () => Promise<void>,
  ): Promise<void> {
    const key = JSON.stringify([cache, path, signingKey ?? ""]);
    let pushed = this.pushes.get(key);
    if (!pushed) {
      pushed = push();
      this.pushes.set(key, pushed);
    }
    return pushed;
  }
}

/**
 * What `nix copy --substitute-on-destination` did, from its messages: the paths it copied from here
 * ("copying path 'P' to 'ssh://...'", "from 'A' to 'B'" in later Nix), those the host fetched from
 * its substituters (the host's own "copying path 'P' from 'CACHE'", passed on over ssh), and whether
 * it said how many it was missing at all ("copying N paths"), which Nix 2.8 and later print.
 */
export function copiedPaths(stderr: string): { copied: number; substituted: number; reported: boolean } {
  const lines = stderr.split("\n").map((line) => line.trim());
  const paths = lines.filter((line) => /^copying path '\/nix\/store\/[^']+' /.test(line));
  const copied = paths.filter((line) => /' to '[^']*'/.test(line)).length;
  return {
    copied,
    substituted: paths.length - copied,
    reported: lines.some((line) => /^copying \d+ paths/.test(line)),
  };
}

export interface NixSettingsView {
  get(name: string): string[] | undefined;
}

export interface CacheCheck {
  check: string;
  status: "pass" | "warn" | "fail";
  detail: string;
  remedy?: string;
}

/**
 * Whether a host will substitute from its cache: the cache among its `substituters`, and what the
 * cache holds signed by a key it trusts (or `require-sigs = false`). Each failure names the
 * nix.settings line to add. `publicKey` is the key the pushes are signed with, if any.
 */
export function cacheTrustChecks(
  host: string,
  cache: string,
  settings: NixSettingsView | undefined,
  publicKey: string | undefined,
): CacheCheck[] {
  const label = cacheLabel(cache);
  if (!settings)
    return [
      {
        check: "cache",
        status: "warn",
        detail: `could not read the Nix settings of ${host} (nix show-config, nix config show)`,
        remedy: `make sure nix runs on ${host}`,
      },
    ];
  const listed = (name: string) => (settings.get(name) ?? []).some((s) => cacheLabel(s) === label);
  const add = (setting: string, value: string) =>
    `on ${host}, add to its configuration: nix.settings.${setting} = [ "${value}" ];`;
  const checks: CacheCheck[] = [];
  if (listed("substituters"))
    checks.push({ check: "cache", status: "pass", detail: `lists ${label} among its substituters` });
  else
    checks.push({
      check: "cache",
      status: listed("trusted-substituters") ? "warn" : "fail",
      detail: listed("trusted-substituters")
        ? `lists ${label} only among its trusted-substituters, which a copy to it does not use: it would receive every path from here`
        : `does not list ${label} among its substituters, so it would receive every path from here instead of fetching it from the cache`,
      remedy: add("substituters", label),
    });
  const requireSigs = (settings.get("require-sigs") ?? ["true"])[0] !== "false";
  const trusted = settings.get("trusted-public-keys") ?? [];
  if (publicKey && trusted.includes(publicKey))
    checks.push({
      check: "cache key",
      status: "pass",
      detail: `trusts ${keyName(publicKey)}, the key the cache's paths are signed with`,
    });
  else if (!requireSigs)
    checks.push({
      check: "cache key",
      status: "pass",
      detail: "require-sigs = false: it takes the cache's paths without a signature",
    });
  else if (publicKey)
    checks.push({
      check: "cache key",
      status: "fail",
      detail: `does not trust ${keyName(publicKey)}, the key the cache's paths are signed with, so it would not take them from the cache`,
      remedy: add("trusted-public-keys", publicKey),
    });
  else
    checks.push({
      check: "cache key",
      status: "fail",
      detail: `the cache's paths would be unsigned (no signingKey, no secret-key in the cache URL), and ${host} requires signatures`,
      remedy: `set signingKey in the inventory (a Nix secret key file, nix key generate-secret), then ${add("trusted-public-keys", "NAME:PUBLIC-KEY")}`,
    });
  return checks;
}

function keyName(publicKey: string): string {
  return publicKey.slice(0, Math.max(0, publicKey.indexOf(":"))) || publicKey;
}

/** `nix show-config` / `nix config show` output: `name = value words` lines. */
export function parseNixSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^([a-z][a-z0-9-]*) = ?(.*)$/.exec(line.trim());
    if (match) settings.set(match[1] as string, (match[2] as string).split(/\s+/).filter(Boolean));
  }
  return settings;
}
