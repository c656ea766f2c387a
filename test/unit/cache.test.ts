import { describe, expect, it } from "vitest";
import {
  CachePushes,
  cacheLabel,
  cacheSecretKey,
  cacheTrustChecks,
  cacheUrlProblem,
  chooseCache,
  copiedPaths,
  declaredCaches,
  hostCache,
  parseNixSettings,
} from "../../src/engine/deploy/cache.js";
import { UserError } from "../../src/engine/errors.js";
import { parseInventory } from "../../src/engine/fleet/inventory.js";

describe("cache URLs", () => {
  it("accepts the stores closures can be pushed to", () => {
    for (const url of [
      "file:///var/cache/nix",
      "file:///srv/cache?compression=zstd&secret-key=/etc/nix/cache.secret",
      "ssh://cache.lan",
      "ssh-ng://deploy@cache.example.org",
      "s3://my-bucket",
      "s3://nix-cache.example?region=eu-west-1",
    ])
      expect(cacheUrlProblem(url), url).toBeUndefined();
  });

  it("refuses http(s) caches as read-only, other schemes, relative paths and hostile text", () => {
    expect(cacheUrlProblem("https://cache.nixos.org")).toMatch(
      /read over the web, so closures cannot be pushed/,
    );
    expect(cacheUrlProblem("http://cache.lan:5000")).toMatch(/^an http:\/\/ cache is read over the web/);
    expect(cacheUrlProblem("daemon://x")).toMatch(/daemon:\/\/ is not a cache closures can be pushed to/);
    expect(cacheUrlProblem("file://relative/dir")).toMatch(/absolute path/);
    expect(cacheUrlProblem("file:///srv/../etc")).toMatch(/without '\.\.'/);
    expect(cacheUrlProblem("ssh://-oProxyCommand=sh")).toMatch(/not starting with '-'/);
    expect(cacheUrlProblem("ssh-ng://host/path")).toMatch(/ssh-ng:\/\/\[user@\]host/);
    expect(cacheUrlProblem("file:///srv/cache\nsubstituters = x")).toMatch(/control character/);
    expect(cacheUrlProblem("/srv/cache")).toMatch(/not a store URL/);
    expect(cacheUrlProblem("s3://Bucket_Name")).toMatch(/s3:\/\/bucket/);
    expect(cacheUrlProblem("file:///srv/cache?x")).toMatch(/name=value/);
  });

  it("labels a cache without its parameters, and reads its secret-key", () => {
    expect(cacheLabel("file:///srv/cache/?secret-key=/k&compression=none")).toBe("file:///srv/cache");
    expect(cacheSecretKey("file:///srv/cache?compression=none&secret-key=/etc/nix/k")).toBe("/etc/nix/k");
    expect(cacheSecretKey("file:///srv/cache")).toBeUndefined();
  });

  it("the inventory takes a cache in its defaults and hosts, and refuses an http one naming the field", () => {
    const inventory = parseInventory(
      JSON.stringify({
        defaults: { cache: "file:///srv/cache" },
        hosts: { a: { cache: "ssh-ng://cache.lan" }, b: {} },
      }),
      "nix-deploy.json",
    );
    expect(declaredCaches(inventory)).toEqual(["file:///srv/cache", "ssh-ng://cache.lan"]);
    expect(() =>
      parseInventory(
        JSON.stringify({ hosts: { a: { cache: "https://cache.nixos.org" } } }),
        "nix-deploy.json",
      ),
    ).toThrow(
      /hosts\.a\.cache: the cache "https:\/\/cache\.nixos\.org" is refused: an https:\/\/ cache is read/,
    );
  });
});

describe("the deployment's cache: the inventory's, or one it declares, or none", () => {
  const declared = ["file:///srv/cache?secret-key=/etc/nix/k", "ssh-ng://cache.lan"];

  it("without input each host keeps its inventory cache; none skips it; a declared one is used by all", () => {
    expect(hostCache(chooseCache(declared, undefined), "ssh-ng://cache.lan")).toBe("ssh-ng://cache.lan");
    expect(hostCache(chooseCache(declared, undefined), undefined)).toBeUndefined();
    expect(hostCache(chooseCache(declared, "none"), "ssh-ng://cache.lan")).toBeUndefined();
    // Named by its label, it is the inventory's full URL (with the secret key the inventory set).
    expect(hostCache(chooseCache(declared, "file:///srv/cache"), undefined)).toBe(declared[0]);
    expect(hostCache(chooseCache(declared, "ssh-ng://cache.lan"), "file:///x")).toBe("ssh-ng://cache.lan");
  });

  it("refuses a cache the inventory does not declare, listing the declared ones", () => {
    let error: unknown;
    try {
      chooseCache(declared, "s3://attacker-bucket");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      'the cache "s3://attacker-bucket" is not one the inventory declares, and only those are pushed to',
    );
    expect((error as UserError).remedy).toMatch(
      /^name one of the inventory's caches \(file:\/\/\/srv\/cache, ssh-ng:\/\/cache\.lan\) or "none"/,
    );
    // The secret key's path, a parameter, is not what a refusal shows.
    expect((error as UserError).remedy).not.toContain("secret-key");
    expect(() => chooseCache([], "file:///srv/cache")).toThrow(/not one the inventory declares/);
  });

  it("pushes each closure once per deployment, whoever asks", async () => {
    const pushes = new CachePushes();
    let count = 0;
    const push = async () => {
      count++;
    };
    await Promise.all([
      pushes.once("file:///c", "/nix/store/a", undefined, push),
      pushes.once("file:///c", "/nix/store/a", undefined, push),
      pushes.once("file:///c", "/nix/store/b", undefined, push),
    ]);
    await pushes.once("file:///c", "/nix/store/a", undefined, push);
    expect(count).toBe(2);
  });
});

describe("what a host must trust to substitute from its cache", () => {
  const KEY = "fleet-1:dGhpcyBpcyBub3QgYSByZWFsIGtleSBidXQgaXQgaXMgYmFzZTY0IQ==";
  const show = (lines: string[]) => parseNixSettings(lines.join("\n"));

  it("reads nix show-config, empty values included", () => {
    const settings = show([
      "require-sigs = true",
      "substituters = file:///srv/cache https://cache.nixos.org/",
      "trusted-public-keys =",
      "warning: something",
    ]);
    expect(settings.get("substituters")).toEqual(["file:///srv/cache", "https://cache.nixos.org/"]);
    expect(settings.get("trusted-public-keys")).toEqual([]);
    expect(settings.has("warning")).toBe(false);
  });

  it("passes a host that lists the cache and trusts the key, or takes unsigned paths", () => {
    const checks = cacheTrustChecks(
      "p620",
      "file:///srv/cache?secret-key=/k",
      show(["substituters = file:///srv/cache/", `trusted-public-keys = other:x ${KEY}`]),
      KEY,
    );
    expect(checks.map((c) => c.status)).toEqual(["pass", "pass"]);
    expect(checks[1]?.detail).toMatch(/^trusts fleet-1, the key/);
    const unsigned = cacheTrustChecks(
      "p620",
      "file:///srv/cache",
      show(["substituters = file:///srv/cache", "require-sigs = false"]),
      undefined,
    );
    expect(unsigned[1]).toMatchObject({
      status: "pass",
      detail: expect.stringMatching(/require-sigs = false/),
    });
  });

  it("names the nix.settings line for each thing the host lacks", () => {
    const [listed, key] = cacheTrustChecks(
      "razer",
      "file:///srv/cache?compression=none",
      show(["substituters =", "trusted-public-keys =", "require-sigs = true"]),
      KEY,
    );
    expect(listed).toMatchObject({
      check: "cache",
      status: "fail",
      detail:
        "does not list file:///srv/cache among its substituters, so it would receive every path from here instead of fetching it from the cache",
      remedy: 'on razer, add to its configuration: nix.settings.substituters = [ "file:///srv/cache" ];',
    });
    expect(key).toMatchObject({
      check: "cache key",
      status: "fail",
      remedy: `on razer, add to its configuration: nix.settings.trusted-public-keys = [ "${KEY}" ];`,
    });
    const [trustedOnly, unsigned] = cacheTrustChecks(
      "razer",
      "file:///srv/cache",
      show(["trusted-substituters = file:///srv/cache"]),
      undefined,
    );
    expect(trustedOnly).toMatchObject({
      status: "warn",
      detail: expect.stringMatching(/only among its trusted-substituters/),
    });
    expect(unsigned).toMatchObject({
      status: "fail",
      remedy: expect.stringMatching(/^set signingKey in the inventory/),
    });
    expect(cacheTrustChecks("razer", "file:///srv/cache", undefined, KEY)).toMatchObject([
      { status: "warn" },
    ]);
  });

  it("tells from nix copy's messages whether the host substituted or received paths", () => {
    // Nix 2.8: the host's own substitutions come back over ssh; the copies from here say "to".
    expect(
      copiedPaths(
        "copying path '/nix/store/aaa-x' from 'file:///srv/cache'...\ncopying path '/nix/store/bbb-y' from 'file:///srv/cache'...\ncopying 0 paths...\n",
      ),
    ).toEqual({ copied: 0, substituted: 2, reported: true });
    expect(
      copiedPaths(
        "copying 2 paths...\ncopying path '/nix/store/aaa-x' to 'ssh://root@h'...\ncopying path '/nix/store/bbb-y' from 'local' to 'ssh://root@h'...\n",
      ),
    ).toEqual({ copied: 2, substituted: 0, reported: true });
    expect(copiedPaths("")).toEqual({ copied: 0, substituted: 0, reported: false });
  });
});
