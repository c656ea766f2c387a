import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Engine } from "./engine/engine.js";
import { UserError } from "./engine/errors.js";
import { stateDir } from "./engine/log.js";
import { writeFileAtomic } from "./engine/state.js";
import { checkPrivateFile } from "./engine/trust.js";
import { createServer } from "./server.js";

export interface HttpOptions {
  port: number;
  /** The address to bind (default loopback). */
  host: string;
  /** The bearer token every request must carry (see httpToken). */
  token: string;
  /** Host headers accepted besides the bound address and loopback names (`--allowed-host`). */
  allowedHosts?: string[];
  /** Origin headers accepted besides `http://` + an allowed host (`--allowed-origin`). */
  allowedOrigins?: string[];
}

/** Shorter tokens can be guessed; a generated one has 43 characters. */
export const MIN_TOKEN_LENGTH = 32;

/** Where the server keeps the token it generated, for clients to read: the user's 0700 state dir. */
export function tokenFilePath(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "http-token");
}

/**
 * The bearer token, always: loopback is no boundary between the users of one machine, so a server
 * without a token would run tools for any of them. From a file (`--token-file`) or the environment,
 * never argv, where `ps` shows it to everyone; else the one in the state directory, generated there
 * (0600) on first use so that restarts keep clients working.
 */
export function httpToken(
  env: NodeJS.ProcessEnv,
  tokenFile?: string,
): { token: string; source: string; generated: boolean } {
  let token: string | undefined;
  let source: string;
  if (tokenFile) {
    checkPrivateFile(tokenFile, "--token-file");
    token = readFileSync(tokenFile, "utf8").trim();
    source = tokenFile;
  } else if (env.NIX_DEPLOY_HTTP_TOKEN) {
    token = env.NIX_DEPLOY_HTTP_TOKEN.trim();
    source = "NIX_DEPLOY_HTTP_TOKEN";
  } else {
    const file = tokenFilePath(env);
    if (!existsSync(file)) {
      writeFileAtomic(file, `${randomBytes(32).toString("base64url")}\n`, { backup: false, mode: 0o600 });
      return { token: readFileSync(file, "utf8").trim(), source: file, generated: true };
    }
    checkPrivateFile(file, "the HTTP token file");
    token = readFileSync(file, "utf8").trim();
    source = file;
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new UserError(
      `the bearer token from ${source} is too short or has spaces (${token.length} characters; at least ${MIN_TOKEN_LENGTH} needed)`,
      `use a long random secret, e.g. \`openssl rand -base64 32\`, or remove it and let the server generate one in ${tokenFilePath(env)}`,
    );
  }
  return { token, source, generated: false };
}

/** A wildcard bind is reached by the machine's names and addresses, so those are valid Host headers. */
function wildcardHostNames(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .map((a) => (a.family === "IPv6" ? `[${a.address}]` : a.address));
  return [hostname(), ...addresses];
}

/**
 * The same MCP server over Streamable HTTP, stateless: each POST gets a fresh protocol server over the
 * shared engine. Every request needs the bearer token; Host headers (DNS rebinding) and Origin
 * headers (a web page in the user's browser) are checked against allow-lists.
 */
export async function startHttpServer(
  engine: Engine,
  options: HttpOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  if (options.token.length < MIN_TOKEN_LENGTH) {
    throw new UserError(
      `the bearer token is shorter than ${MIN_TOKEN_LENGTH} characters`,
      "use a long random secret",
    );
  }
  const expected = Buffer.from(`Bearer ${options.token}`);

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    allowedHosts: string[],
    allowedOrigins: string[],
  ) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== "/mcp") {
      return sendJson(res, 404, { error: "not found: the MCP endpoint is /mcp" });
    }
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts.includes(host)) {
      return sendJson(res, 403, {
        error: `Host ${host || "(none)"} is not allowed; start the server with --allowed-host ${host || "NAME:PORT"} if clients reach it by that name`,
      });
    }
    const origin = req.headers.origin?.toLowerCase();
    if (origin !== undefined && !allowedOrigins.includes(origin)) {
      return sendJson(res, 403, {
        error: `Origin ${origin} is not allowed; start the server with --allowed-origin ${origin} to accept it`,
      });
    }
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.setHeader("WWW-Authenticate", "Bearer");
      return sendJson(res, 401, { error: "missing or wrong bearer token" });
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableDnsRebindingProtection: true,
      allowedHosts,
      allowedOrigins,
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
  const wildcard = options.host === "0.0.0.0" || options.host === "::";
  const names = [hostForUrl, "localhost", "127.0.0.1", "[::1]", ...(wildcard ? wildcardHostNames() : [])];
  const allowedHosts = [
    ...new Set([
      ...names.map((name) => `${name}:${port}`),
      ...(options.allowedHosts ?? []).map((h) => (/:\d+$/.test(h) ? h : `${h}:${port}`)),
    ]),
  ].map((h) => h.toLowerCase());
  const allowedOrigins = [
    ...allowedHosts.map((h) => `http://${h}`),
    ...(options.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, "")),
  ];
  httpServer.on("request", (req, res) => {
    handle(req, res, allowedHosts, allowedOrigins).catch((error: unknown) => {
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
