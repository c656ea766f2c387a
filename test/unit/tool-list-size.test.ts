import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/engine.js";
import { createServer } from "../../src/server.js";

/**
 * What every session pays before it asks anything: the tool list the client puts in the model's
 * context, each tool's name, description and input schema (its JSON Schema, as tools/list gives
 * it). Output schemas and annotations are for the client, not the model. Tokens are counted the
 * usual rough way, four characters each. The budget grew with the onboarding and key tools (22 tools,
 * about 310 tokens each); it leaves room for a few more fields, not for wordier descriptions.
 */
const BUDGET_TOKENS = 7200;

describe("the model-facing tool list", () => {
  it(`stays under ${BUDGET_TOKENS} tokens`, async () => {
    const engine = createEngine({ logFile: false, env: { ...process.env, LOG_LEVEL: "silent" } });
    const server = createServer(engine);
    const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "tool-list-size", version: "0.0.0" });
    await client.connect(clientSide);
    try {
      const { tools } = await client.listTools();
      const perTool = tools.map((t) => ({
        name: t.name,
        tokens: Math.ceil(
          JSON.stringify({ name: t.name, description: t.description, input_schema: t.inputSchema }).length /
            4,
        ),
      }));
      const total = perTool.reduce((sum, t) => sum + t.tokens, 0);
      const largest = [...perTool].sort((a, b) => b.tokens - a.tokens).slice(0, 3);
      expect(tools.length).toBeGreaterThan(10);
      expect(
        total,
        `${total} tokens; the largest: ${largest.map((t) => `${t.name} ${t.tokens}`).join(", ")}`,
      ).toBeLessThan(BUDGET_TOKENS);
      console.info(`model-facing tool list: ${tools.length} tools, about ${total} tokens`);
    } finally {
      await client.close();
      await engine.close();
    }
  });
});
