import preflightTool from "../../tools/preflight.js";
import { ALL_OPTION, command, EXIT, numberOption, selectors } from "../command.js";
import { checkMark, hostLine, width } from "../format.js";

export default command({
  name: "preflight",
  synopsis: "preflight [HOSTS...|@tag|--all] [--min-free GIB]",
  summary: "checks before a deploy: git status, evaluation, ssh, Nix, free space, locks",
  options: {
    ...ALL_OPTION,
    "min-free": {
      type: "string",
      value: "GIB",
      description: "free space needed in /nix (default 2)",
      field: "minFreeGiB",
    },
  },
  positionals: "hosts",
  tool: preflightTool,
  input: (values, positionals) => ({
    hosts: selectors(values, positionals, false),
    minFreeGiB: numberOption(values["min-free"]),
  }),
  exitCode: (result) => (result.status === "fail" ? EXIT.blocked : EXIT.ok),
  render: (result) => {
    const w = width(result.hosts);
    const lines = (who: string, checks: typeof result.flake) =>
      checks.map((c) =>
        hostLine(who, `${checkMark[c.status]} ${c.check}: ${c.detail}${c.remedy ? ` — ${c.remedy}` : ""}`, w),
      );
    return [
      ...lines("flake", result.flake),
      ...result.hosts.flatMap((h) => lines(h.host, h.checks)),
      result.summary,
    ];
  },
});
