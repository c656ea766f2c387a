import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { expect } from "vitest";

export const SERVER_ENTRY = join(import.meta.dirname, "..", "..", "dist", "index.js");

/** The built server spawned over stdio, as Claude Code runs it, with a real MCP client attached. */
export async function connectStdio(
  args: string[],
  env: Record<string, string>,
): Promise<{ client: Client; stderr: () => string; close(): Promise<void> }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER_ENTRY, ...args],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "nix-deploy-e2e", version: "0.0.0" });
  await client.connect(transport);
  return {
    client,
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

/** The text of a tool result (the first content item). */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("\n");
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
