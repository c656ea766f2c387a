import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Engine } from "../engine/engine.js";
import { describeError, UserError } from "../engine/errors.js";
import type { Hooks, Operation } from "../engine/hooks.js";

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
  /**
   * The engine operation the tool adapts, imported when the tool is first called: a client listing
   * the tools (its first request) makes the server load the schemas, not the engine behind them.
   */
  operation(): Promise<Operation<z.infer<z.ZodObject<Input>>, z.infer<Output>>>;
}

export function defineTool<Input extends z.ZodRawShape, Output extends z.ZodObject>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}

export type AnyToolDefinition = ToolDefinition<any, any>;

/** The one way a tool's operation is called, by the MCP server and the CLI alike. */
export async function runTool<Input extends z.ZodRawShape, Output extends z.ZodObject>(
  tool: ToolDefinition<Input, Output>,
  engine: Engine,
  input: z.infer<z.ZodObject<Input>>,
  hooks: Hooks,
): Promise<z.infer<Output>> {
  const operation = await tool.operation();
  return operation(engine, input, hooks);
}

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
      const hooks: Hooks = {
        signal: extra.signal,
        progress(message, done = ++steps, total) {
          if (progressToken === undefined) return;
          // The operation goes on whether or not the client hears of its progress.
          extra
            .sendNotification({
              method: "notifications/progress",
              params: { progressToken, progress: done, total, message },
            })
            .catch((error: unknown) => engine.log.warn({ err: error, tool: tool.name }, "progress not sent"));
        },
        confirm: (question) => askUser(server, question, extra.signal),
        ask: (question) => askUserText(server, question, extra.signal),
      };
      try {
        const result = await runTool(tool, engine, input, hooks);
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

/** Whether the client takes form elicitation; an empty `elicitation: {}` is how older clients said so. */
function canAsk(server: McpServer): boolean {
  const elicitation = server.server.getClientCapabilities()?.elicitation;
  return Boolean(elicitation) && !(elicitation && "url" in elicitation && !("form" in elicitation));
}

/** A yes/no question as an elicitation form; undefined when the client has no form elicitation. */
async function askUser(
  server: McpServer,
  question: string,
  signal: AbortSignal,
): Promise<boolean | undefined> {
  if (!canAsk(server)) return undefined;
  const answer = await server.server.elicitInput(
    {
      message: question,
      requestedSchema: {
        type: "object",
        properties: { confirm: { type: "boolean", title: "Go ahead", description: "yes to go ahead" } },
        required: ["confirm"],
      },
    },
    { signal },
  );
  return answer.action === "accept" && answer.content?.confirm === true;
}

/** A question the user answers by typing, as an elicitation form with one text field. */
async function askUserText(
  server: McpServer,
  question: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (!canAsk(server)) return undefined;
  const answer = await server.server.elicitInput(
    {
      message: question,
      requestedSchema: {
        type: "object",
        properties: { answer: { type: "string", title: "Type it here", description: question } },
        required: ["answer"],
      },
    },
    { signal },
  );
  return answer.action === "accept" && typeof answer.content?.answer === "string"
    ? answer.content.answer
    : undefined;
}
