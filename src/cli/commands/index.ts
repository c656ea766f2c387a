import type { AnyCommand } from "../command.js";
import addHost from "./add-host.js";
import audit from "./audit.js";
import backup from "./backup.js";
import build from "./build.js";
import commit from "./commit.js";
import deploy from "./deploy.js";
import fleet from "./fleet.js";
import hostFacts from "./host-facts.js";
import installHost from "./install-host.js";
import issues from "./issues.js";
import onboarding from "./onboarding.js";
import preflight from "./preflight.js";
import preview from "./preview.js";
import report from "./report.js";
import restore from "./restore.js";
import restoreLock from "./restore-lock.js";
import rollback from "./rollback.js";
import scan from "./scan.js";
import smartUpdate from "./smart-update.js";
import status from "./status.js";
import update from "./update.js";
import uploadKeys from "./upload-keys.js";
import validate from "./validate.js";

/** Every command, in the order --help lists them: looking, checking, changing, updating. */
export const commands: AnyCommand[] = [
  fleet,
  status,
  hostFacts,
  preflight,
  validate,
  scan,
  audit,
  build,
  deploy,
  rollback,
  uploadKeys,
  installHost,
  preview,
  issues,
  update,
  smartUpdate,
  restoreLock,
  commit,
  addHost,
  backup,
  restore,
  report,
  onboarding,
];
