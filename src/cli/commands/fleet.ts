import fleetListTool from "../../tools/fleet_list.js";
import { command, EXIT, noPositionals } from "../command.js";
import { hostLine } from "../format.js";

export default command({
  name: "fleet",
  synopsis: "fleet [--no-probe]",
  summary: "the flake's hosts: ssh target, tags, whether each answers and the system it runs",
  options: { "no-probe": { type: "boolean", description: "list only; do not contact the hosts" } },
  tool: fleetListTool,
  input: (values, positionals) => {
    noPositionals("fleet", positionals);
    return { probe: !values["no-probe"] };
  },
  exitCode: (result) => (result.hosts.some((h) => h.reachable === false) ? EXIT.failed : EXIT.ok),
  render: (result) => {
    const w = Math.max(8, ...result.hosts.map((h) => h.name.length));
    return [
      ...result.hosts.map((h) => {
        const state =
          h.reachable === undefined
            ? ""
            : h.reachable
              ? `up ${h.currentSystem ?? ""}`
              : `DOWN ${h.reason ?? ""}`;
        const tags = h.tags.length ? ` ${h.tags.map((t) => `@${t}`).join(" ")}` : "";
        return hostLine(h.name, `${h.target}${h.port ? `:${h.port}` : ""}${tags} ${state}`.trimEnd(), w);
      }),
      ...result.warnings.map((w) => `warning: ${w}`),
      result.summary,
    ];
  },
});
