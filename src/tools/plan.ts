import { z } from "zod";
import { planResultSchema } from "../engine/plan.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "plan",
  title: "Plan a request",
  description:
    'Turns a /nix-deploy request ("Deploy to p620", "Fast deploy to p620", "Emergency deploy to p620", "Deploy to ' +
    'all hosts", "Preview updates for p620", "Smart update p620", "... for issue #12") into hosts, mode and the ' +
    "phases with the tool for each. Call it first; pass its planId to deploy. Unknown hosts or modes are listed.",
  input: {
    request: z.string().min(1).max(500).describe("the request as the user wrote it"),
    ...baseInput,
  },
  output: planResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  operation: async () => (await import("../engine/plan.js")).makePlan,
});
