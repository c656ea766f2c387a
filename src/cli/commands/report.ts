import { z } from "zod";
import { renderReportMarkdown, reportSchema } from "../../engine/report/report.js";
import { defineTool } from "../../tools/define.js";
import { command, EXIT, UsageError } from "../command.js";

/** Reports are MCP resources; the CLI reads them through the same engine function. */
const reportTool = defineTool({
  name: "report",
  title: "Deployment report",
  description: "The report of a deployment (latest or by id).",
  input: { id: z.string().min(1) },
  output: reportSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  operation: async () => (await import("../../engine/report/report.js")).showReport,
});

export default command({
  name: "report",
  synopsis: "report [latest|ID]",
  summary: "the deployment report: status, generations, changes, checks, health (markdown; JSON with --json)",
  options: {},
  tool: reportTool,
  input: (_values, positionals) => {
    if (positionals.length > 1)
      throw new UsageError("report takes one deployment id or latest", "e.g. nix-deploy report latest");
    return { id: positionals[0] ?? "latest" };
  },
  exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
  render: (result) => [renderReportMarkdown(result)],
});
