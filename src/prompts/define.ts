import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { z } from "zod";
import type { Engine } from "../engine/engine.js";

/** A prompt: few, short arguments, since clients pass them positionally. */
export interface PromptDefinition<Args extends Record<string, z.ZodType<string | undefined>>> {
  name: string;
  title: string;
  description: string;
  args: Args;
  text(args: z.infer<z.ZodObject<Args>>, engine: Engine): Promise<string>;
}

export type AnyPromptDefinition = PromptDefinition<any>;

export function registerPrompt(server: McpServer, engine: Engine, prompt: AnyPromptDefinition): void {
  server.registerPrompt(
    prompt.name,
    { title: prompt.title, description: prompt.description, argsSchema: prompt.args },
    async (args: Record<string, string | undefined>) => ({
      messages: [
        { role: "user" as const, content: { type: "text" as const, text: await prompt.text(args, engine) } },
      ],
    }),
  );
}
