/**
 * Push once, pull many (issue 12, item 5): the bytes the deployer sends over ssh to N hosts for one
 * change of every host's system, without and with the deployment's binary cache. Measured at the
 * boundary: a counting loopback TCP proxy in front of each host's sshd, the inventory's ports
 * pointed at the proxies. The change gives every package of the fixture nixpkgs a payload of
 * random bytes (as a nixpkgs update replaces most of a closure), shared among the hosts.
 *
 * With the cache (file://, beside the fleet, which every host reads), each closure goes to the cache
 * once and the hosts substitute from it: what crosses the proxies is ssh's own traffic and the
 * deployment's commands, not the closures. Prints bytes per host and the ratio.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { deploy } from "../src/engine/deploy/deployment.js";
import { createEngine } from "../src/engine/engine.js";
import { deployerNixKey, newSigningKey } from "../test/fleet/accounts.js";
import { FLEET_HOSTS, fleetUnavailableReason, type SimFleet, startFleet } from "../test/fleet/harness.js";

const HOSTS = [...FLEET_HOSTS];
/** Bytes of random payload per package: every host's new closure carries several of them. */
const PAYLOAD = Number(process.env.BENCH_CACHE_PAYLOAD ?? 512 * 1024);

interface Proxy {
  server: Server;
  port: number;
  sockets: Set<Socket>;
  /** Bytes from the deployer to the host, and back. */
  up: number;
  down: number;
}

/** A loopback TCP proxy to `target` that counts the bytes through it in each direction. */
function countingProxy(target: number): Promise<Proxy> {
  const proxy = { sockets: new Set<Socket>(), up: 0, down: 0 } as Proxy;
  proxy.server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: target });
    for (const socket of [client, upstream]) {
      proxy.sockets.add(socket);
      socket.on("close", () => proxy.sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      proxy.up += chunk.length;
    });
    upstream.on("data", (chunk: Buffer) => {
      proxy.down += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    proxy.server.once("error", reject);
    proxy.server.listen(0, "127.0.0.1", () => {
      const address = proxy.server.address();
      proxy.port = typeof address === "object" && address ? address.port : 0;
      resolve(proxy);
    });
  });
}

async function closeProxy(proxy: Proxy): Promise<void> {
  for (const socket of proxy.sockets) socket.destroy();
  await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
}

/** Gives every fixture package a payload, then a new one per round: every host's closure changes. */
async function newPayloads(fleet: SimFleet, round: number): Promise<void> {
  const env = { ...process.env, ...fleet.env };
  const flake = join(fleet.nixpkgsDir, "flake.nix");
  const text = readFileSync(flake, "utf8");
  const marked = text.includes("payloadRound")
    ? text.replace(/payloadRound = "\d+";/, `payloadRound = "${round}";`)
    : text.replace(
        'chmod +x $out/bin/${pname}" ];',
        `chmod +x $out/bin/\${pname} && head -c ${PAYLOAD} /dev/urandom > $out/payload" ];\n        payloadRound = "${round}";`,
      );
  if (marked === text) throw new Error("the fixture nixpkgs did not take the payload");
  writeFileSync(flake, marked);
  await execa("git", ["commit", "-qam", `payload round ${round}`], { cwd: fleet.nixpkgsDir, env });
  await execa("nix", ["flake", "lock", "--update-input", "nixpkgs"], { cwd: fleet.flakeDir, env });
  await fleet.commit(`payload round ${round}`);
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(path) : statSync(path).size;
  }
  return total;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

async function main(): Promise<void> {
  const unavailable = fleetUnavailableReason();
  if (unavailable) {
    process.stdout.write(`cache benchmark skipped: ${unavailable}\n`);
    return;
  }
  const keyDir = join(process.env.TMPDIR ?? "/tmp", `nix-deploy-bench-cache-${process.pid}`);
  const key = newSigningKey(keyDir, "bench-cache-1");
  const fleet = await startFleet({ hosts: HOSTS, cache: { publicKey: key.publicKey } });
  const proxies = new Map<string, Proxy>();
  const engine = createEngine({
    flake: fleet.flakeDir,
    env: { ...process.env, ...fleet.env, LOG_LEVEL: "warn" },
    logFile: false,
    parallelism: HOSTS.length,
  });
  try {
    const cache = fleet.cache as { url: string; dir: string };
    const secret = deployerNixKey(fleet.env.HOME as string, key.secretFile, "cache-key");
    // Every host behind its proxy: the inventory's port, and the proxy's port in known_hosts.
    const inventoryFile = join(fleet.flakeDir, "nix-deploy.json");
    const inventory = JSON.parse(readFileSync(inventoryFile, "utf8"));
    const knownHosts = readFileSync(fleet.knownHosts, "utf8");
    const extraKnown: string[] = [];
    for (const name of HOSTS) {
      const host = fleet.hosts.get(name);
      if (!host) throw new Error(`no host ${name}`);
      const proxy = await countingProxy(host.port);
      proxies.set(name, proxy);
      inventory.hosts[name].port = proxy.port;
      const line = knownHosts.split("\n").find((l) => l.startsWith(`[127.0.0.1]:${host.port} `));
      if (line) extraKnown.push(line.replace(`[127.0.0.1]:${host.port} `, `[127.0.0.1]:${proxy.port} `));
    }
    writeFileSync(fleet.knownHosts, `${knownHosts.trimEnd()}\n${extraKnown.join("\n")}\n`);
    inventory.defaults.cache = `${cache.url}?compression=none`;
    inventory.defaults.signingKey = secret;
    writeFileSync(inventoryFile, `${JSON.stringify(inventory, null, 2)}\n`);
    await fleet.commit("bench: hosts behind counting proxies, the fleet's cache");

    const measure = async (round: number, withCache: boolean) => {
      await newPayloads(fleet, round);
      // Built before measuring (a dry run would copy): the deploy then only finds them built.
      await execa(
        "nix",
        [
          "build",
          "--no-link",
          ...HOSTS.map((h) => `${fleet.flakeDir}#nixosConfigurations.${h}.config.system.build.toplevel`),
        ],
        { env: { ...process.env, ...fleet.env } },
      );
      const before = new Map(HOSTS.map((h) => [h, proxies.get(h)?.up ?? 0]));
      const cacheBefore = bytesUnder(cache.dir);
      const result = await deploy(engine, {
        hosts: HOSTS,
        mode: "fast",
        ...(withCache ? {} : { cache: "none" }),
      });
      if (result.status !== "succeeded")
        throw new Error(`bench deploy failed: ${result.summary}\n${JSON.stringify(result.hosts, null, 2)}`);
      const notes = result.hosts.flatMap((h) => h.notes ?? []).filter((n) => /pushed to/.test(n));
      return {
        perHost: HOSTS.map((h) => (proxies.get(h)?.up ?? 0) - (before.get(h) ?? 0)),
        toCache: bytesUnder(cache.dir) - cacheBefore,
        notes,
      };
    };
    const without = await measure(1, false);
    const withCache = await measure(2, true);
    const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
    const lines = [
      `push once, pull many: bytes the deployer sent over ssh for one change of ${HOSTS.length} hosts (payload ${kib(PAYLOAD)} per package)`,
      ...HOSTS.map(
        (h, i) =>
          `  ${h.padEnd(8)} without cache ${kib(without.perHost[i] ?? 0).padStart(9)}   with cache ${kib(withCache.perHost[i] ?? 0).padStart(9)}`,
      ),
      `  total over ssh: without ${kib(sum(without.perHost))}, with ${kib(sum(withCache.perHost))} (+ ${kib(withCache.toCache)} written once to the cache)`,
      `  ratio over ssh with/without cache: ${(sum(withCache.perHost) / sum(without.perHost)).toFixed(3)}x`,
      `  ratio (ssh + cache push)/without:  ${((sum(withCache.perHost) + withCache.toCache) / sum(without.perHost)).toFixed(3)}x`,
      `  notes: ${withCache.notes.length} hosts said "${withCache.notes[0] ?? "(none)"}"`,
      "",
    ];
    process.stdout.write(lines.join("\n"));
  } finally {
    await engine.close();
    for (const proxy of proxies.values()) await closeProxy(proxy);
    await fleet.stop();
    rmSync(keyDir, { recursive: true, force: true });
  }
}

void main();
