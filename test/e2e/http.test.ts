import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { SERVER_ENTRY } from "./client.js";

/** Starts the built server with --http 0 and reads the URL it prints on stderr. */
async function startHttp(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; stderr(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [SERVER_ENTRY, "--http", "0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      // The address, then the line that says where the token is.
      const match = /listening on (http:\/\/\S+)\n.*the token is/.exec(stderr);
      if (match) resolve(match[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(child.pid as number, "SIGTERM");
      await exited;
    },
  };
}

function rawPost(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }));
  });
}

const skip = skipFleetReason();
const TOKEN = "s3cret-token-of-at-least-32-characters";

/** A 0600 token file in a fresh directory, as a person would write one. */
function tokenFile(token = TOKEN): string {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-http-"));
  const file = join(dir, "token");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

function exitOf(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [SERVER_ENTRY, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

describe("the server over Streamable HTTP", () => {
  let state: string;
  const servers: Array<{ stop(): Promise<void> }> = [];
  beforeAll(() => {
    state = mkdtempSync(join(tmpdir(), "nix-deploy-http-state-"));
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
  });

  it("always requires a token: without one it generates a private one and prints only its path", async () => {
    const server = await startHttp([], { XDG_STATE_HOME: state, NIX_DEPLOY_HTTP_TOKEN: "" });
    servers.push(server);
    const file = join(state, "nix-deploy", "http-token");
    const token = readFileSync(file, "utf8").trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(server.stderr()).toContain(`the token is in ${file}`);
    expect(server.stderr()).not.toContain(token);
    // Loopback is no boundary between users: without the token, nothing is served.
    expect(await rawPost(server.url, {})).toBe(401);
    expect(await rawPost(server.url, { authorization: `Bearer ${token}` })).toBe(200);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "refuses another local user, who can neither call a tool nor read the token (needs root to switch user)",
    async () => {
      const server = await startHttp([], { XDG_STATE_HOME: state, NIX_DEPLOY_HTTP_TOKEN: "" });
      servers.push(server);
      const file = join(state, "nix-deploy", "http-token");
      // As nobody: read the token file, then post tools/call with what was read.
      const script = `
        const fs = require("fs"), http = require("http");
        let token = "";
        try { token = fs.readFileSync(${JSON.stringify(file)}, "utf8").trim(); } catch (e) { console.log("read:" + e.code); }
        const req = http.request(${JSON.stringify(server.url)}, { method: "POST", headers: {
          "content-type": "application/json", accept: "application/json, text/event-stream",
          authorization: "Bearer " + token } }, (res) => { console.log("status:" + res.statusCode); res.resume(); });
        req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "fleet_list", arguments: {} } }));`;
      const result = spawnSync(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script],
        { encoding: "utf8" },
      );
      expect(result.stdout).toContain("read:EACCES");
      expect(result.stdout).toContain("status:401");
    },
  );

  it("refuses a token on the command line, where ps shows it, and a short token", async () => {
    const argv = await exitOf(["--http", "0", "--token", TOKEN], { XDG_STATE_HOME: state });
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/--token puts the secret on the command line/);
    expect(argv.stderr).toMatch(/--token-file FILE/);
    expect(argv.stderr).not.toMatch(/\n\s+at /);
    const short = await exitOf(["--http", "0"], { XDG_STATE_HOME: state, NIX_DEPLOY_HTTP_TOKEN: "short" });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/too short .*at least 32/);
    const open = tokenFile();
    chmodSync(open, 0o644);
    const readable = await exitOf(["--http", "0", "--token-file", open], { XDG_STATE_HOME: state });
    expect(readable.code).toBe(2);
    expect(readable.stderr).toMatch(/is not a private file .*mode 644/);
  });

  it("on a wildcard address, accepts the names given with --allowed-host and refuses foreign Origins", async () => {
    const server = await startHttp(
      [
        "--host",
        "0.0.0.0",
        "--token-file",
        tokenFile(),
        "--allowed-host",
        "deploy-box.lan",
        "--allowed-origin",
        "https://console.lan",
      ],
      { XDG_STATE_HOME: state },
    );
    servers.push(server);
    const port = new URL(server.url).port;
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(await rawPost(server.url, { ...auth, host: `deploy-box.lan:${port}` })).toBe(200);
    expect(await rawPost(server.url, { ...auth, host: `127.0.0.1:${port}` })).toBe(200);
    expect(await rawPost(server.url, { ...auth, host: `evil.example:${port}` })).toBe(403);
    expect(
      await rawPost(server.url, { ...auth, host: `127.0.0.1:${port}`, origin: "https://console.lan" }),
    ).toBe(200);
    expect(
      await rawPost(server.url, { ...auth, host: `127.0.0.1:${port}`, origin: "https://evil.example" }),
    ).toBe(403);
  });

  describe.skipIf(skip)("on the simulated fleet", () => {
    let fleet: SimFleet;
    let server: Awaited<ReturnType<typeof startHttp>>;

    beforeAll(async () => {
      fleet = await startFleet({ hosts: ["p620", "samsung"] });
      server = await startHttp(["--flake", fleet.flakeDir, "--token-file", tokenFile()], fleet.env);
    });
    afterAll(async () => {
      await server?.stop();
      await fleet?.stop();
    });

    it("serves tools, resources, prompts and real tool calls to an MCP client with the token", async () => {
      const client = new Client({ name: "nix-deploy-e2e-http", version: "0.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(
          expect.arrayContaining(["fleet_list", "host_status"]),
        );
        expect((await client.listResources()).resources.map((r) => r.uri)).toContain("nix-deploy://fleet");
        expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain("nix-deploy");
        const result = await client.callTool({ name: "fleet_list", arguments: {} });
        // The flake has four hosts; this fleet started two.
        expect(result.structuredContent).toMatchObject({
          summary: "4 hosts, 2 answering; not answering: p510, razer",
        });
      } finally {
        await client.close();
      }
    });

    it("rejects a missing token, and a foreign Host header (DNS rebinding)", async () => {
      expect(await rawPost(server.url, {})).toBe(401);
      expect(await rawPost(server.url, { authorization: "Bearer wrong-token!" })).toBe(401);
      expect(await rawPost(server.url, { authorization: `Bearer ${TOKEN}`, host: "evil.example:80" })).toBe(
        403,
      );
    });
  });
});
