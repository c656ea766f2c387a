import { baseInput } from "../engine/schemas.js";
import { commitDeploymentOptionsSchema, commitDeploymentResultSchema } from "../engine/updates/commit.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "commit_changes",
  title: "Commit a deployed change for an issue",
  description:
    "After a successful deployment, commits the flake's changed tracked files with a conventional message that references " +
    'an issue ("feat(monitoring): add postgres monitoring (#123)"), optionally on a new branch, pushes it, and opens a pull request. ' +
    "Refuses when the deployment failed or was a dry run.",
  input: { ...commitDeploymentOptionsSchema.shape, ...baseInput },
  output: commitDeploymentResultSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  operation: async () => (await import("../engine/updates/commit.js")).commitDeployment,
});
