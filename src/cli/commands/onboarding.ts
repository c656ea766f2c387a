import { z } from "zod";
import { onboardingRecordSchema } from "../../engine/onboard/record.js";
import { renderOnboardingMarkdown } from "../../engine/report/onboarding.js";
import { defineTool } from "../../tools/define.js";
import { command, EXIT, UsageError } from "../command.js";

/** Onboarding reports are MCP resources; the CLI reads them through the same engine function. */
const onboardingTool = defineTool({
  name: "onboarding_report",
  title: "Onboarding report",
  description: "The report of an add_host run (latest or by id).",
  input: { id: z.string().min(1) },
  output: onboardingRecordSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  operation: async () => (await import("../../engine/onboard/record.js")).showOnboarding,
});

export default command({
  name: "onboarding",
  synopsis: "onboarding [latest|ID]",
  summary: "the report of an add_host run: machine facts, files, checks, backup (markdown; JSON with --json)",
  options: {},
  tool: onboardingTool,
  input: (_values, positionals) => {
    if (positionals.length > 1)
      throw new UsageError("onboarding takes one run id or latest", "e.g. nix-deploy onboarding latest");
    return { id: positionals[0] ?? "latest" };
  },
  exitCode: (result) => (result.status === "rolled-back" ? EXIT.failed : EXIT.ok),
  render: (result) => [renderOnboardingMarkdown(result)],
});
