import { testBuildOptionsSchema, testBuildResultSchema } from "../engine/deploy/build.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "test_build",
  title: "Test build",
  description:
    "Builds the system of each host (names, @tag or all) without deploying, locally or on a build host; returns " +
    "the store path, build time and closure size, or the end of Nix's error with the failing derivation.",
  input: { ...testBuildOptionsSchema.shape, ...baseInput },
  output: testBuildResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/deploy/build.js")).testBuild,
});
