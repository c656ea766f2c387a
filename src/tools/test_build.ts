import { testBuild, testBuildOptionsSchema, testBuildResultSchema } from "../engine/deploy/build.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "test_build",
  title: "Test build",
  description:
    "Builds the system of each host (names, @tag or all) without deploying, locally or on a build host; returns " +
    "the store path, build time and closure size, or the end of Nix's error with the failing derivation.",
  input: { ...testBuildOptionsSchema.shape, flake: flakeInput },
  output: testBuildResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  run: (engine, input, context) =>
    testBuild(engine, input, { signal: context.signal, progress: (m) => void context.progress(m) }),
});
