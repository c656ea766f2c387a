import type { AnyToolDefinition } from "./define.js";
import fleetList from "./fleet_list.js";
import hostStatus from "./host_status.js";
import scanAntipatterns from "./scan_antipatterns.js";
import securityAudit from "./security_audit.js";
import validateSyntax from "./validate_syntax.js";

/** Every tool the server offers; one file each in this folder. */
export const tools: AnyToolDefinition[] = [
  fleetList,
  hostStatus,
  validateSyntax,
  scanAntipatterns,
  securityAudit,
];
