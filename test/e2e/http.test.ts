import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { SERVER_ENTRY } from "./client.js";

/** Starts the built server with --http 0 and reads the URL it prints on stderr. */
async function startHttp(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [SERVER_ENTRY, "--http", "0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    child,
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

describe("the server over Streamable HTTP", () => {
  it("refuses to bind beyond loopback without a bearer token", async () => {
    const child = spawn(process.execPath, [SERVER_ENTRY, "--http", "0", "--host", "0.0.0.0"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NIX_DEPLOY_HTTP_TOKEN: "" },
    });
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/refusing to serve on 0.0.0.0 without a bearer token/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  describe.skipIf(skip)("on the simulated fleet", () => {
    let fleet: SimFleet;
    let server: Awaited<ReturnType<typeof startHttp>>;

    beforeAll(async () => {
      fleet = await startFleet({ hosts: ["p620", "samsung"] });
      server = await startHttp(["--flake", fleet.flakeDir, "--token", "s3cret-token"], fleet.env);
    });
    afterAll(async () => {
      await server?.stop();
      await fleet?.stop();
    });

    it("serves tools, resources, prompts and real tool calls to an MCP client with the token", async () => {
      const client = new Client({ name: "nix-deploy-e2e-http", version: "0.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: { headers: { authorization: "Bearer s3cret-token" } },
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
      expect(
        await rawPost(server.url, { authorization: "Bearer s3cret-token", host: "evil.example:80" }),
      ).toBe(403);
    });
  });
});
