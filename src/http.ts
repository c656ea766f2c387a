import { timingSafeEqual } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Engine } from "./engine/engine.js";
import { UserError } from "./engine/errors.js";
import { createServer } from "./server.js";

export interface HttpOptions {
  port: number;
  /** The address to bind; loopback unless a bearer token protects the server. */
  host: string;
  token?: string;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The same MCP server over Streamable HTTP, stateless: each POST gets a fresh protocol server over the
 * shared engine. Host headers are checked (DNS-rebinding protection), and any address other than
 * loopback is refused unless a bearer token is set.
 */
export async function startHttpServer(
  engine: Engine,
  options: HttpOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  if (!isLoopback(options.host) && !options.token) {
    throw new UserError(
      `refusing to serve on ${options.host} without a bearer token`,
      "set NIX_DEPLOY_HTTP_TOKEN (or --token) to a long random secret, or bind 127.0.0.1",
    );
  }
  const expected = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse, allowedHosts: string[]) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== "/mcp") {
      return sendJson(res, 404, { error: "not found: the MCP endpoint is /mcp" });
    }
    if (expected) {
      const given = Buffer.from(req.headers.authorization ?? "");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.setHeader("WWW-Authenticate", "Bearer");
        return sendJson(res, 401, { error: "missing or wrong bearer token" });
      }
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableDnsRebindingProtection: true,
      allowedHosts,
    });
    const server = createServer(engine);
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };

  const httpServer = createHttpServer();
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  const allowedHosts = [`${hostForUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`];
  httpServer.on("request", (req, res) => {
    handle(req, res, allowedHosts).catch((error: unknown) => {
      engine.log.error({ err: error }, "http request failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error; see the nix-deploy log" });
    });
  });
  return {
    server: httpServer,
    url: `http://${hostForUrl}:${port}/mcp`,
    close: () => new Promise((resolve) => httpServer.close(() => resolve())),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
