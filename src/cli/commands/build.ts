import testBuildTool from "../../tools/test_build.js";
import { ALL_OPTION, command, EXIT, selectors } from "../command.js";
import { hostLine, mib, seconds, width } from "../format.js";

export default command({
  name: "build",
  synopsis: "build [HOSTS...|@tag|--all] [--build-host HOST]",
  summary: "build hosts' systems without deploying, here or on a build host",
  options: {
    ...ALL_OPTION,
    "build-host": {
      type: "string",
      value: "HOST",
      description: "build on this host of the fleet",
      field: "buildHost",
      complete: "hosts",
    },
  },
  positionals: "hosts",
  tool: testBuildTool,
  input: (values, positionals) => ({
    hosts: selectors(values, positionals, false),
    buildHost: values["build-host"],
  }),
  exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
  render: (result) => {
    const w = width(result.hosts);
    return [
      ...result.hosts.flatMap((h) =>
        h.ok
          ? [
              hostLine(
                h.host,
                `built ${h.storePath ?? ""} in ${seconds(h.buildTimeMs)}${h.closureSizeBytes !== undefined ? `, closure ${mib(h.closureSizeBytes)}` : ""}`,
                w,
              ),
            ]
          : [
              hostLine(h.host, `build failed${h.failingDerivation ? `: ${h.failingDerivation}` : ""}`, w),
              ...(h.error ?? "").split("\n").map((l) => hostLine(h.host, `  ${l}`, w)),
            ],
      ),
      result.summary,
      `next: ${result.next}`,
    ];
  },
});
