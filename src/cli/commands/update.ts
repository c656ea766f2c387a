import updateTool from "../../tools/update.js";
import { command, EXIT } from "../command.js";
import { deploymentLines, UPDATE_OPTIONS, updateInput, updateLines } from "../update-options.js";

export default command({
  name: "update",
  synopsis:
    "update [HOSTS...|@tag|--all] [--input NAME]... [--mode MODE] [--commit [--issue N] [--push] [--pull-request]]",
  summary: "update the flake's inputs and deploy them under magic rollback (flake.lock backed up first)",
  options: UPDATE_OPTIONS,
  positionals: "hosts",
  tool: updateTool,
  input: updateInput,
  confirm: (input) =>
    `Update ${input.inputs?.join(", ") ?? "every input"} in flake.lock and deploy to ${input.hosts?.join(", ") ?? "all hosts"}?`,
  exitCode: (result) =>
    result.status === "updated" || result.status === "up-to-date" ? EXIT.ok : EXIT.failed,
  render: (result) => [
    ...updateLines(result),
    ...deploymentLines(result.deployment),
    ...(result.lockBackup ? [`previous flake.lock backed up as ${result.lockBackup}`] : []),
    ...(result.commit ? [`committed ${result.commit.commit.slice(0, 12)} ${result.commit.message}`] : []),
    ...(result.commitError ? [`commit: ${result.commitError}`] : []),
    result.summary,
    `next: ${result.next}`,
  ],
});
