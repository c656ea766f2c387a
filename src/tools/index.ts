import addHost from "./add_host.js";
import backup from "./backup.js";
import checkNixpkgsIssues from "./check_nixpkgs_issues.js";
import commitChanges from "./commit_changes.js";
import type { AnyToolDefinition } from "./define.js";
import deploy from "./deploy.js";
import fleetList from "./fleet_list.js";
import hostFacts from "./host_facts.js";
import hostStatus from "./host_status.js";
import installHost from "./install_host.js";
import plan from "./plan.js";
import preflight from "./preflight.js";
import previewUpdates from "./preview_updates.js";
import restore from "./restore.js";
import restoreLock from "./restore_lock.js";
import rollback from "./rollback.js";
import scanAntipatterns from "./scan_antipatterns.js";
import securityAudit from "./security_audit.js";
import smartUpdate from "./smart_update.js";
import testBuild from "./test_build.js";
import update from "./update.js";
import uploadKeys from "./upload_keys.js";
import validateSyntax from "./validate_syntax.js";

/** Every tool the server offers; one file each in this folder. */
export const tools: AnyToolDefinition[] = [
  plan,
  fleetList,
  hostStatus,
  hostFacts,
  preflight,
  validateSyntax,
  scanAntipatterns,
  securityAudit,
  testBuild,
  deploy,
  rollback,
  uploadKeys,
  installHost,
  checkNixpkgsIssues,
  previewUpdates,
  update,
  restoreLock,
  smartUpdate,
  commitChanges,
  addHost,
  backup,
  restore,
];
