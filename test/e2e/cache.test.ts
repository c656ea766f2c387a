/**
 * Push once, pull many: a deployment with a binary cache pushes each system closure to it once, and
 * the hosts substitute from it. On the simulated fleet, with a file:// cache every host can read;
 * razer does not list it, as a host whose configuration was never told about the cache.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PreflightResult } from "../../src/engine/deploy/preflight.js";
import { deployerNixKey, newSigningKey } from "../fleet/accounts.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { connectStdio, currentSystem, deployVia, type StdioServer, textOf } from "./client.js";

const skip = skipFleetReason();

describe.skipIf(skip)(
  "deploy with a binary cache: each closure pushed once, hosts substitute from it",
  () => {
    let fleet: SimFleet;
    let server: StdioServer;
    let cacheUrl: string;
    const keyDir = mkdtempSync(join(tmpdir(), "nix-deploy-cache-key-"));
    const key = newSigningKey(keyDir, "fleet-cache-1");

    beforeAll(async () => {
      fleet = await startFleet({
        hosts: ["p620", "p510", "razer"],
        cache: { publicKey: key.publicKey, trustedBy: ["p620", "p510"] },
      });
      cacheUrl = (fleet.cache as { url: string }).url;
      // The key where a secret key may be (never the flake), named by the inventory beside the cache.
      const secret = deployerNixKey(fleet.env.HOME as string, key.secretFile, "cache-key");
      const inventoryFile = join(fleet.flakeDir, "nix-deploy.json");
      const inventory = JSON.parse(readFileSync(inventoryFile, "utf8"));
      inventory.defaults.cache = `${cacheUrl}?compression=none`;
      inventory.defaults.signingKey = secret;
      writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2));
      await fleet.commit("the fleet's binary cache");
      server = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
    });
    afterAll(async () => {
      await server?.close();
      await fleet?.stop();
      rmSync(keyDir, { recursive: true, force: true });
    });

    it("deploy.cache: changed hosts deploy through the cache, which holds each system once; none skips it", async () => {
      for (const host of ["p620", "p510", "razer"])
        fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "nginx" "'));
      await fleet.commit("nginx everywhere");
      const result = await deployVia(server, { hosts: ["p620", "p510"], mode: "fast" });
      expect(result.status, JSON.stringify(result.hosts)).toBe("succeeded");
      // The report names the cache each host took its closure from, without the URL's query.
      const report = String(
        (
          (await server.client.readResource({ uri: `nix-deploy://reports/${result.deploymentId}` }))
            .contents[0] as { text: string }
        ).text,
      );
      expect(report.split("\n").filter((line) => line === `Closure from the cache ${cacheUrl}`)).toHaveLength(
        2,
      );
      for (const name of ["p620", "p510"]) {
        const host = result.hosts.find((h) => h.host === name);
        expect(host?.outcome).toBe("deployed");
        expect(host?.notes, JSON.stringify(host?.notes)).toContain(
          `pushed to ${cacheUrl} once; ${name} substituted from it`,
        );
        const system = host?.newSystem as string;
        expect(await currentSystem(fleet, name)).toBe(system);
        // The cache holds the system's narinfo, signed with the inventory's key.
        const narinfo = join(fleet.cache?.dir as string, `${basename(system).slice(0, 32)}.narinfo`);
        expect(existsSync(narinfo)).toBe(true);
        expect(readFileSync(narinfo, "utf8")).toMatch(/^Sig: fleet-cache-1:/m);
      }

      // razer does not list the cache: the copy falls back to sending the paths from here, and says so.
      const fallback = await deployVia(server, { hosts: ["razer"], mode: "fast" });
      expect(fallback.hosts[0]).toMatchObject({ outcome: "deployed" });
      expect(fallback.hosts[0]?.notes).toContainEqual(
        expect.stringMatching(
          /^pushed to file:\/\/\S+ once, but razer did not substitute \d+ path\(s\) from it: they were copied from here/,
        ),
      );
      expect(await currentSystem(fleet, "razer")).toBe(fallback.hosts[0]?.newSystem);

      // "none" skips the cache: razer is copied to as without one, and the cache is not written.
      fleet.editHost("razer", (t) => t.replace('packages = [ "', 'packages = [ "redis" "'));
      await fleet.commit("redis on razer");
      const direct = await deployVia(server, { hosts: ["razer"], mode: "fast", cache: "none" });
      expect(direct.hosts[0]).toMatchObject({ outcome: "deployed" });
      expect(direct.hosts[0]?.notes ?? []).not.toContainEqual(expect.stringMatching(/pushed to/));
      expect(await currentSystem(fleet, "razer")).toBe(direct.hosts[0]?.newSystem);
      const skipped = basename(direct.hosts[0]?.newSystem as string).slice(0, 32);
      expect(existsSync(join(fleet.cache?.dir as string, `${skipped}.narinfo`))).toBe(false);
    });

    it("preflight: a host that does not list the cache or trust its key fails, naming the nix.settings line to add", async () => {
      const result = await server.client.callTool(
        { name: "preflight", arguments: { hosts: ["razer", "p620"] } },
        undefined,
        { timeout: 120_000 },
      );
      const hosts = (result.structuredContent as PreflightResult).hosts;
      const checks = (host: string) => hosts.find((h) => h.host === host)?.checks ?? [];
      expect(checks("razer").find((c) => c.check === "cache")).toMatchObject({
        status: "fail",
        detail: `does not list ${cacheUrl} among its substituters, so it would receive every path from here instead of fetching it from the cache`,
        remedy: `on razer, add to its configuration: nix.settings.substituters = [ "${cacheUrl}" ];`,
      });
      expect(checks("razer").find((c) => c.check === "cache key")).toMatchObject({
        status: "fail",
        remedy: `on razer, add to its configuration: nix.settings.trusted-public-keys = [ "${key.publicKey}" ];`,
      });
      expect(checks("p620").filter((c) => c.check.startsWith("cache"))).toMatchObject([
        { check: "cache", status: "pass" },
        { check: "cache key", status: "pass", detail: expect.stringMatching(/^trusts fleet-cache-1/) },
      ]);
    });

    it("refuses a cache the tool input names but the inventory does not declare, listing the declared ones", async () => {
      const elsewhere = mkdtempSync(join(tmpdir(), "nix-deploy-not-a-fleet-cache-"));
      try {
        const result = await server.client.callTool(
          { name: "deploy", arguments: { hosts: ["p620"], cache: `file://${elsewhere}` } },
          undefined,
          { timeout: 120_000 },
        );
        expect(result.isError).toBe(true);
        const text = textOf(result);
        expect(text).toContain(
          `the cache "file://${elsewhere}" is not one the inventory declares, and only those are pushed to`,
        );
        expect(text).toContain(`name one of the inventory's caches (${cacheUrl}) or "none"`);
        expect(existsSync(join(elsewhere, "nix-cache-info"))).toBe(false);
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });
  },
);
