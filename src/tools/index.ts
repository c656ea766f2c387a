import checkNixpkgsIssues from "./check_nixpkgs_issues.js";
import type { AnyToolDefinition } from "./define.js";
import fleetList from "./fleet_list.js";
import hostStatus from "./host_status.js";

/** Every tool the server offers; one file each in this folder. */
export const tools: AnyToolDefinition[] = [fleetList, hostStatus, checkNixpkgsIssues];
