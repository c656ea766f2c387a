import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import { type SimFleet, startFleet } from "../fleet/harness.js";

export const SERVER_ENTRY = join(import.meta.dirname, "..", "..", "dist", "index.js");

/** Answers the server's questions (MCP elicitation); a client given one declares that it can be asked. */
export type ElicitHandler = (params: ElicitRequest["params"]) => ElicitResult | Promise<ElicitResult>;

/** The server as the plugin and the npm package ship it: esbuild's bundle (scripts/bundle.ts). */
export const BUNDLE_ENTRY = join(import.meta.dirname, "..", "..", "bundle", "nix-deploy-mcp.js");

/**
 * The built server spawned over stdio, as Claude Code runs it, with a real MCP client attached.
 * `entry` picks another build of it (BUNDLE_ENTRY).
 */
export async function connectStdio(
  args: string[],
  env: Record<string, string>,
  options: {
    elicit?: ElicitHandler;
    entry?: string;
    /** A command the server runs under, e.g. nsenter into a simulated host (fleet.inHost). */
    wrapper?: string[];
  } = {},
): Promise<{ client: Client; pid: number | null; stderr: () => string; close(): Promise<void> }> {
  const [command, ...wrapperArgs] = [...(options.wrapper ?? []), process.execPath];
  const transport = new StdioClientTransport({
    command: command as string,
    args: [...wrapperArgs, options.entry ?? SERVER_ENTRY, ...args],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client(
    { name: "nix-deploy-e2e", version: "0.0.0" },
    options.elicit ? { capabilities: { elicitation: { form: {} } } } : undefined,
  );
  const elicit = options.elicit;
  if (elicit) client.setRequestHandler(ElicitRequestSchema, (request) => elicit(request.params));
  await client.connect(transport);
  return {
    client,
    pid: transport.pid,
    stderr: () => stderr,
    close: async () => {
      const pid = transport.pid;
      await client.close();
      if (pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // exited with the client
        }
      }
    },
  };
}

/** The system a simulated host runs now. */
export async function currentSystem(fleet: SimFleet, host: string): Promise<string> {
  return (await fleet.onHost(host, "readlink /run/current-system")).stdout.trim();
}

/** Calls deploy and returns its structured result; a tool error fails the test. */
export async function deployVia(server: StdioServer, args: Record<string, unknown>): Promise<DeployResult> {
  const result = await server.client.callTool({ name: "deploy", arguments: args }, undefined, {
    timeout: 300_000,
  });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as DeployResult;
}

/** The text of a tool result (the first content item). */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("\n");
}

export type StdioServer = Awaited<ReturnType<typeof connectStdio>>;

/**
 * For a describe block: a simulated fleet and the built server on its flake, started before the
 * tests and stopped after them, failed or not. Read `fleet` and `server` inside tests. `extraEnv` is read
 * when the server starts, after the hooks registered before this call (a fake GitHub's address).
 */
export function useFleetAndServer(
  hosts?: readonly string[],
  extraEnv: () => Record<string, string> = () => ({}),
): { fleet: SimFleet; server: StdioServer } {
  const context = {} as { fleet: SimFleet; server: StdioServer };
  beforeAll(async () => {
    context.fleet = await startFleet({ hosts });
    context.server = await connectStdio(["--flake", context.fleet.flakeDir], {
      ...context.fleet.env,
      ...extraEnv(),
    });
  });
  afterAll(async () => {
    await context.server?.close();
    await context.fleet?.stop();
  });
  return context;
}

/** Asserts that each named tool is listed with an output schema and the annotations of a read-only tool. */
export async function expectReadOnlyTools(client: Client, names: string[]): Promise<void> {
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  for (const name of names) {
    const tool = byName.get(name);
    expect(tool?.outputSchema?.type, name).toBe("object");
    expect(tool?.annotations, name).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: true,
    });
  }
}
