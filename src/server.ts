import { readFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Engine } from "./engine/engine.js";
import { packageFile } from "./engine/package.js";
import { registerPrompt } from "./prompts/define.js";
import { prompts } from "./prompts/index.js";
import { registerResource } from "./resources/define.js";
import { resources } from "./resources/index.js";
import { registerTool } from "./tools/define.js";
import { tools } from "./tools/index.js";

export const packageVersion: string = (
  JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as { version: string }
).version;

/** The MCP server: every tool, resource and prompt from their folders, over one engine. */
export function createServer(engine: Engine): McpServer {
  const server = new McpServer(
    { name: "nix-deploy", version: packageVersion },
    {
      capabilities: { logging: {} },
      instructions:
        "nix-deploy deploys the NixOS configurations of a flake to their hosts, safely. For a request like " +
        '"Deploy to p620" call plan first: it names the hosts, the mode and the tools to call in order; deploy ' +
        "takes its planId. fleet_list shows the hosts; details of a deployment are in nix-deploy://reports/latest.",
    },
  );
  for (const tool of tools) registerTool(server, engine, tool);
  for (const resource of resources) registerResource(server, engine, resource);
  for (const prompt of prompts) registerPrompt(server, engine, prompt);
  return server;
}
