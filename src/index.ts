#!/usr/bin/env node
import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createEngine } from "./engine/engine.js";
import { describeError } from "./engine/errors.js";
import { createServer, packageVersion } from "./server.js";

const USAGE = `nix-deploy-mcp: the nix-deploy MCP server

Usage:
  nix-deploy-mcp [--flake PATH] [--inventory FILE]            serve MCP over stdio
  nix-deploy-mcp --http PORT [--host ADDR] [--token TOKEN]    serve MCP over Streamable HTTP at /mcp

Options:
  --flake PATH       the flake to deploy (default: NIX_DEPLOY_FLAKE or the working directory)
  --inventory FILE   the inventory (default: nix-deploy.json at the flake root)
  --http PORT        serve over HTTP on PORT (0 picks a free port) instead of stdio
  --host ADDR        address to bind (default 127.0.0.1); other than loopback needs a token
  --token TOKEN      bearer token clients must send (default: NIX_DEPLOY_HTTP_TOKEN)
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      flake: { type: "string" },
      inventory: { type: "string" },
      http: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      token: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
    strict: true,
  });
  // Everything for a person goes to stderr: on stdio, stdout carries only the protocol.
  if (values.help) return void process.stderr.write(USAGE);
  if (values.version) return void process.stderr.write(`${packageVersion}\n`);

  const engine = createEngine({ flake: values.flake, inventoryFile: values.inventory });
  const shutdown = async () => {
    await engine.close();
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);

  if (values.http !== undefined) {
    const port = Number(values.http);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`--http needs a port number from 0 to 65535, not "${values.http}"`);
    }
    // Loaded only when asked for: the HTTP transport costs start-up time the stdio server need not pay.
    const { startHttpServer } = await import("./http.js");
    const { url } = await startHttpServer(engine, {
      port,
      host: values.host,
      token: values.token ?? process.env.NIX_DEPLOY_HTTP_TOKEN,
    });
    engine.log.info({ url, flake: engine.flake }, "serving MCP over HTTP");
    process.stderr.write(`nix-deploy-mcp listening on ${url}\n`);
    return;
  }
  const server = createServer(engine);
  const transport = new StdioServerTransport();
  transport.onclose = () => void shutdown();
  await server.connect(transport);
  engine.log.debug({ flake: engine.flake }, "serving MCP over stdio");
}

main().catch((error: unknown) => {
  process.stderr.write(`nix-deploy-mcp: ${describeError(error)}\n${USAGE}`);
  process.exit(2);
});
