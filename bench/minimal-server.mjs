/**
 * The baseline of the cold-start benchmark: the smallest useful server the MCP SDK makes, one tool
 * with a zod input schema over stdio, as its README shows. What nix-deploy's server costs beyond
 * this is what its own code and dependencies add.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "minimal", version: "0.0.0" });
server.registerTool(
  "echo",
  { title: "Echo", description: "Returns its text.", inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: "text", text }] }),
);
await server.connect(new StdioServerTransport());
