#!/usr/bin/env node
import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createEngine } from "./engine/engine.js";
import { describeError, UserError } from "./engine/errors.js";
import { createServer, packageVersion } from "./server.js";

const USAGE = `nix-deploy-mcp: the nix-deploy MCP server

Usage:
  nix-deploy-mcp [--flake PATH] [--inventory FILE]              serve MCP over stdio
  nix-deploy-mcp --http PORT [--host ADDR] [--token-file FILE]  serve MCP over Streamable HTTP at /mcp

Options:
  --flake PATH          the flake to deploy (default: NIX_DEPLOY_FLAKE or the working directory)
  --allow-flake PATH    another flake a tool call may name (repeatable); no other is served
  --inventory FILE      the inventory (default: nix-deploy.json at the flake root)
  --http PORT           serve over HTTP on PORT (0 picks a free port) instead of stdio
  --host ADDR           address to bind (default 127.0.0.1)
  --token-file FILE     a 0600 file holding the bearer token clients must send (default:
                        NIX_DEPLOY_HTTP_TOKEN, else one generated into the state directory,
                        whose path is printed); never on the command line, where ps shows it
  --allowed-host NAME   a Host header to accept, NAME or NAME:PORT (repeatable), for clients that
                        reach the server by a name other than the bound address
  --allowed-origin URL  an Origin header to accept (repeatable); browsers' pages are refused otherwise
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      flake: { type: "string" },
      "allow-flake": { type: "string", multiple: true },
      inventory: { type: "string" },
      http: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      token: { type: "string" },
      "token-file": { type: "string" },
      "allowed-host": { type: "string", multiple: true },
      "allowed-origin": { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
    strict: true,
  });
  // Everything for a person goes to stderr: on stdio, stdout carries only the protocol.
  if (values.help) return void process.stderr.write(USAGE);
  if (values.version) return void process.stderr.write(`${packageVersion}\n`);

  if (values.token !== undefined) {
    throw new UserError(
      "--token puts the secret on the command line, where every local user sees it in ps",
      "write it to a 0600 file and pass --token-file FILE, or set NIX_DEPLOY_HTTP_TOKEN",
    );
  }
  const engine = createEngine({
    flake: values.flake,
    allowedFlakes: values["allow-flake"],
    inventoryFile: values.inventory,
  });
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
    const { httpToken, startHttpServer } = await import("./http.js");
    const token = httpToken(process.env, values["token-file"]);
    const { url } = await startHttpServer(engine, {
      port,
      host: values.host,
      token: token.token,
      allowedHosts: values["allowed-host"],
      allowedOrigins: values["allowed-origin"],
    });
    engine.log.info({ url, flake: engine.flake, tokenSource: token.source }, "serving MCP over HTTP");
    // The path of the token, never the token: stderr may end up in a shared log.
    process.stderr.write(
      `nix-deploy-mcp listening on ${url}\nclients send "Authorization: Bearer <token>"; the token is ${token.source.startsWith("/") ? `in ${token.source}` : `the value of ${token.source}`}${token.generated ? " (generated now)" : ""}\n`,
    );
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
