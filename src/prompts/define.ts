import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import type { Engine } from "../engine/engine.js";

type ArgSchema = z.ZodType<string | undefined>;

/** A prompt: few, short arguments, since clients pass them positionally. */
export interface PromptDefinition<Args extends Record<string, ArgSchema>> {
  name: string;
  title: string;
  description: string;
  args: Args;
  /** Completions of an argument from what was typed so far (MCP `completion/complete`). */
  complete?: { [Name in keyof Args]?: (value: string, engine: Engine) => Promise<string[]> };
  text(args: z.infer<z.ZodObject<Args>>, engine: Engine): Promise<string>;
}

export type AnyPromptDefinition = PromptDefinition<any>;

export function registerPrompt(server: McpServer, engine: Engine, prompt: AnyPromptDefinition): void {
  const args: Record<string, ArgSchema> = {};
  for (const [name, schema] of Object.entries(prompt.args as Record<string, ArgSchema>)) {
    const complete = prompt.complete?.[name];
    args[name] = complete
      ? withCompletion(schema, (value) => complete(typeof value === "string" ? value : "", engine))
      : schema;
  }
  server.registerPrompt(
    prompt.name,
    { title: prompt.title, description: prompt.description, argsSchema: args },
    async (values: Record<string, string | undefined>) => ({
      messages: [
        {
          role: "user" as const,
          content: { type: "text" as const, text: await prompt.text(values, engine) },
        },
      ],
    }),
  );
}

/**
 * The argument's schema with a completer, on fresh copies: completable() marks the schema object
 * itself, once, and every server (one per HTTP session) registers the prompts again. The SDK
 * decides whether to offer completions at all from the schema inside an optional argument, but
 * then looks for the completer on the argument's own schema, so an optional one carries it twice.
 */
function withCompletion(schema: ArgSchema, complete: (value: unknown) => Promise<string[]>): ArgSchema {
  if (!(schema instanceof z.ZodOptional)) return completable(schema.clone(), complete);
  const inner = completable((schema.unwrap() as z.ZodType<string>).clone(), complete).optional();
  return completable(schema.description ? inner.describe(schema.description) : inner, complete);
}
