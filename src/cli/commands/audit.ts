import securityAuditTool from "../../tools/security_audit.js";
import { command, EXIT, selectors } from "../command.js";
import { hostLine, width } from "../format.js";
import { ruleFindingLines, SCOPE_OPTIONS, scopeInput } from "../scope.js";

export default command({
  name: "audit",
  synopsis: "audit [HOSTS...] [--base REF] [--source-only] [--changed] [--since REF] [--limit N]",
  summary: "security audit: risky settings in the source, open ports and service exposure per host",
  options: {
    ...SCOPE_OPTIONS,
    base: {
      type: "string",
      value: "REF",
      description: "flag only what is new since this git ref (default HEAD)",
      field: "base",
    },
    "source-only": { type: "boolean", description: "do not evaluate the hosts", field: "evaluate" },
  },
  positionals: "hosts",
  tool: securityAuditTool,
  input: (values, positionals) => ({
    ...scopeInput(values),
    hosts: selectors(values, positionals, false),
    base: values.base,
    evaluate: values["source-only"] ? false : undefined,
  }),
  exitCode: (result) => (result.counts.block > 0 ? EXIT.blocked : EXIT.ok),
  render: (result) => {
    const w = width(result.hosts);
    return [
      ...result.source.findings.flatMap(ruleFindingLines),
      ...result.hosts.flatMap((h) => [
        hostLine(
          h.host,
          h.error ??
            `firewall ${h.firewallEnabled === false ? "OFF" : "on"}; open tcp ${h.openTCPPorts?.join(" ") || "none"}; ${h.exposedServices ?? 0} of ${h.services ?? 0} services exposed`,
          w,
        ),
        ...h.findings.map((f) => hostLine(h.host, `  ${f.severity} ${f.code}: ${f.message}`, w)),
      ]),
      `compared with ${result.base.ref}${result.base.note ? ` (${result.base.note})` : ""}`,
      result.summary,
    ];
  },
});
