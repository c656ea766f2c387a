import { securityAuditInput, securityAuditResultSchema } from "../engine/analysis/audit.js";
import { scopeInput } from "../engine/analysis/files.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "security_audit",
  title: "Security audit",
  description:
    "Two layers. Source: risky settings as written (PermitRootLogin yes, password ssh, firewall off, " +
    "openFirewall, open ports, wheel without password, non-root trusted-users, services running as root). " +
    "Evaluated: each host's real firewall and systemd services (nix eval), services scored 0-10 like " +
    "`systemd-analyze security`, compared with the same host at a git base (default HEAD): only new open " +
    "ports and new or more exposed services are flagged.",
  input: { ...baseInput, ...scopeInput, ...securityAuditInput },
  output: securityAuditResultSchema,
  // Open world: evaluating a flake makes Nix fetch any input that is not in the store yet.
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/analysis/audit.js")).securityAudit,
});
