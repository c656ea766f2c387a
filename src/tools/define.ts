import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Engine } from "../engine/engine.js";
import { describeError, UserError } from "../engine/errors.js";

/** What a tool handler gets besides its input: cancellation and a way to report progress. */
export interface ToolContext {
  signal: AbortSignal;
  progress(message: string, done?: number, total?: number): Promise<void>;
}

/** MCP's hints, always all four: the SDK's defaults (destructive, open-world) suit almost no tool. */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolDefinition<Input extends z.ZodRawShape, Output extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: Input;
  output: Output;
  annotations: ToolAnnotations;
  run(engine: Engine, input: z.infer<z.ZodObject<Input>>, context: ToolContext): Promise<z.infer<Output>>;
}

export function defineTool<Input extends z.ZodRawShape, Output extends z.ZodObject>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}

export type AnyToolDefinition = ToolDefinition<any, any>;

/**
 * Registers a tool as a thin adapter: validated input in, one engine call, structured result out.
 * Failures become tool errors whose text says what is wrong and what to do, never a stack trace.
 */
export function registerTool(server: McpServer, engine: Engine, tool: AnyToolDefinition): void {
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: tool.input,
      outputSchema: tool.output.shape,
      annotations: { title: tool.title, ...tool.annotations },
    },
    async (input: Record<string, unknown>, extra: RequestHandlerExtra<ServerRequest, ServerNotification>) => {
      const progressToken = extra._meta?.progressToken;
      // Progress must increase with every notification; steps without a count just advance by one.
      let steps = 0;
      const context: ToolContext = {
        signal: extra.signal,
        async progress(message, done = ++steps, total) {
          if (progressToken === undefined) return;
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress: done, total, message },
          });
        },
      };
      try {
        const result = await tool.run(engine, input, context);
        return {
          structuredContent: result,
          content: [{ type: "text" as const, text: JSON.stringify(result) }],
        };
      } catch (error) {
        if (!(error instanceof UserError)) engine.log.error({ err: error, tool: tool.name }, "tool failed");
        return { isError: true, content: [{ type: "text" as const, text: describeError(error) }] };
      }
    },
  );
}
