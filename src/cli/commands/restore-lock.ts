import restoreLockTool from "../../tools/restore_lock.js";
import { command, EXIT, flag } from "../command.js";
import { DEPLOY_SETTINGS_OPTIONS, deploymentLines, deploySettingsInput } from "../update-options.js";

export default command({
  name: "restore-lock",
  synopsis: "restore-lock [latest|BACKUP] [--redeploy [HOSTS...|@tag|--all]]",
  summary: "put a backed-up flake.lock back (the one replaced is backed up too); --redeploy deploys it",
  options: {
    ...DEPLOY_SETTINGS_OPTIONS,
    redeploy: { type: "boolean", description: "deploy the restored lock afterwards", field: "redeploy" },
  },
  tool: restoreLockTool,
  // The first word is the backup; the rest are the hosts to redeploy.
  input: (values, positionals) => ({
    ...deploySettingsInput(values, positionals.slice(1)),
    backup: positionals[0],
    redeploy: flag(values.redeploy),
  }),
  confirm: (input) =>
    `Restore flake.lock from ${input.backup ?? "the latest backup"}${input.redeploy ? " and deploy it" : ""}?`,
  exitCode: (result) => (result.status === "failed" ? EXIT.failed : EXIT.ok),
  render: (result) => [
    `restored ${result.restored}${result.replacedLockBackup ? `; the replaced lock is backup ${result.replacedLockBackup}` : ""}`,
    ...deploymentLines(result.deployment),
    result.summary,
    `next: ${result.next}`,
  ],
});
