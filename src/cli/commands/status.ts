import hostStatusTool from "../../tools/host_status.js";
import { command, EXIT, UsageError } from "../command.js";

export default command({
  name: "status",
  synopsis: "status HOST",
  summary: "one host: current system, generations, failed units",
  options: {},
  positionals: "hosts",
  tool: hostStatusTool,
  input: (_values, positionals) => {
    if (positionals.length !== 1)
      throw new UsageError("status takes one host name", "e.g. nix-deploy status p620");
    return { host: positionals[0] };
  },
  exitCode: (result) => (result.reachable && result.failedUnits.length === 0 ? EXIT.ok : EXIT.failed),
  render: (result) => [
    result.summary,
    ...(result.currentSystem ? [`system: ${result.currentSystem}`] : []),
    ...(result.nixVersion ? [`nix: ${result.nixVersion}`] : []),
    ...result.generations
      .slice(-10)
      .map(
        (g) => `${g.current ? "*" : " "} generation ${g.number}  ${g.date}${g.current ? "  (current)" : ""}`,
      ),
    ...result.homeManager.flatMap((p) =>
      p.generations
        .slice(-5)
        .map(
          (g) =>
            `${g.current ? "*" : " "} home-manager ${p.user} generation ${g.number}  ${g.date}${g.current ? "  (current)" : ""}`,
        ),
    ),
    ...result.failedUnits.map((u) => `failed: ${u.unit} (${u.sub}) ${u.description}`),
    `next: ${result.next}`,
  ],
});
