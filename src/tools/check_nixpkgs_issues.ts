import { z } from "zod";
import { baseInput } from "../engine/schemas.js";
import { changingPackageSchema, issueCheckResultSchema } from "../engine/updates/issue-check.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "check_nixpkgs_issues",
  title: "Check nixpkgs issues",
  description:
    "Searches NixOS/nixpkgs GitHub issues (regression, security, blocker labels and titles) for known bugs in " +
    "the packages an update changes, classes them critical/high/medium, and gives a verdict: proceed, confirm " +
    "(ask the user) or block (with the Nix to pin). GitHub unreachable or rate limited gives a degraded result, never proceed. " +
    "Answers are cached; refresh bypasses the cache.",
  input: {
    packages: z
      .array(changingPackageSchema)
      .min(1)
      .max(200)
      .describe(
        'the changing packages: names, or {name, oldVersion, newVersion}, e.g. ["firefox", {"name": "systemd", "oldVersion": "254.5", "newVersion": "254.6"}]',
      ),
    since: z
      .string()
      .optional()
      .describe(
        "search issues updated since this date (default: the locked nixpkgs' lastModified from flake.lock, else 30 days back)",
      ),
    newLockDate: z
      .string()
      .optional()
      .describe("the new lock's date; issues closed before it count as fixed in the update"),
    refresh: z.boolean().optional().describe("ask GitHub again instead of using cached answers"),
    ...baseInput,
  },
  output: issueCheckResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/updates/issue-check.js")).checkIssuesForUpdate,
});
