import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Engine } from "../engine/engine.js";

/** A fixed-URI resource whose content one engine call produces. */
export interface ResourceDefinition {
  name: string;
  uri: string;
  title: string;
  description: string;
  mimeType: "application/json" | "text/markdown";
  read(engine: Engine): Promise<string>;
}

export function registerResource(server: McpServer, engine: Engine, resource: ResourceDefinition): void {
  server.registerResource(
    resource.name,
    resource.uri,
    { title: resource.title, description: resource.description, mimeType: resource.mimeType },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: resource.mimeType, text: await resource.read(engine) }],
    }),
  );
}
