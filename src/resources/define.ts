import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Engine } from "../engine/engine.js";

type MimeType = "application/json" | "text/markdown";

/** A fixed-URI resource whose content one engine call produces. */
export interface ResourceDefinition {
  name: string;
  uri: string;
  title: string;
  description: string;
  mimeType: MimeType;
  read(engine: Engine): Promise<string>;
}

/** A family of resources under one URI template, e.g. `nix-deploy://reports/{id}`. */
export interface ResourceTemplateDefinition {
  name: string;
  uriTemplate: string;
  title: string;
  description: string;
  mimeType: MimeType;
  /** The concrete resources, for resources/list. */
  list(engine: Engine): Promise<Array<{ uri: string; name: string }>>;
  read(engine: Engine, variables: Record<string, string>): Promise<string>;
}

export function registerResource(
  server: McpServer,
  engine: Engine,
  resource: ResourceDefinition | ResourceTemplateDefinition,
): void {
  const metadata = { title: resource.title, description: resource.description, mimeType: resource.mimeType };
  if ("uri" in resource) {
    server.registerResource(resource.name, resource.uri, metadata, async (uri) => ({
      contents: [{ uri: uri.href, mimeType: resource.mimeType, text: await resource.read(engine) }],
    }));
    return;
  }
  const template = new ResourceTemplate(resource.uriTemplate, {
    list: async () => ({
      resources: (await resource.list(engine)).map((r) => ({ ...r, mimeType: resource.mimeType })),
    }),
  });
  server.registerResource(resource.name, template, metadata, async (uri, variables) => {
    const flat = Object.fromEntries(
      Object.entries(variables).map(([k, v]) => [k, Array.isArray(v) ? String(v[0]) : String(v)]),
    );
    return {
      contents: [{ uri: uri.href, mimeType: resource.mimeType, text: await resource.read(engine, flat) }],
    };
  });
}
