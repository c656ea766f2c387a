import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Engine } from "../engine/engine.js";
import { describeError, UserError } from "../engine/errors.js";

/** What a tool handler gets besides its input: cancellation, progress, and a way to ask the user. */
export interface ToolContext {
  signal: AbortSignal;
  progress(message: string, done?: number, total?: number): Promise<void>;
  /**
   * Asks the user a yes/no question through the client (MCP elicitation): true for yes, false for
   * no or a dismissed question, undefined when the client cannot be asked.
   */
  confirm(question: string): Promise<boolean | undefined>;
  /**
   * Asks the user to type a value (a disk id to be erased): what they typed, or undefined when the
   * client cannot ask or the question was dismissed. Nothing answers it on the user's behalf.
   */
  ask(question: string): Promise<string | undefined>;
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
        confirm: (question) => askUser(server, question, extra.signal),
        ask: (question) => askUserText(server, question, extra.signal),
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
