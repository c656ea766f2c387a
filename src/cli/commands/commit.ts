import commitChangesTool from "../../tools/commit_changes.js";
import { command, EXIT, flag, numberOption, UsageError } from "../command.js";

export default command({
  name: "commit",
  synopsis:
    'commit "SUBJECT" [--issue N] [--type feat|fix|...] [--scope S] [--branch B] [--push] [--pull-request]',
  summary: "after a successful deployment, commit what it deployed as type(scope): subject (#issue)",
  options: {
    issue: { type: "string", value: "N", description: "the issue to reference: (#N)", field: "issue" },
    type: {
      type: "string",
      value: "TYPE",
      description: "conventional commit type (default chore)",
      field: "type",
    },
    scope: {
      type: "string",
      value: "SCOPE",
      description: "the commit's scope, e.g. monitoring",
      field: "scope",
    },
    branch: { type: "string", value: "NAME", description: "commit on this new branch", field: "branch" },
    push: { type: "boolean", description: "push the branch", field: "push" },
    remote: {
      type: "string",
      value: "NAME",
      description: "the configured remote to push to (default origin)",
      field: "remote",
    },
    "pull-request": {
      type: "boolean",
      description: "open a pull request after pushing (needs GITHUB_TOKEN)",
      field: "pullRequest",
    },
    deployment: {
      type: "string",
      value: "ID",
      description: "the deployment (default: this flake's latest)",
      field: "deployment",
    },
  },
  tool: commitChangesTool,
  input: (values, positionals) => {
    if (positionals.length !== 1)
      throw new UsageError(
        "commit takes one subject",
        'e.g. nix-deploy commit "add postgres monitoring" --issue 123 --scope monitoring',
      );
    return {
      subject: positionals[0],
      issue: numberOption(values.issue),
      type: values.type,
      scope: values.scope,
      branch: values.branch,
      push: flag(values.push || values["pull-request"]),
      remote: values.remote,
      pullRequest: values["pull-request"] ? {} : undefined,
      deployment: values.deployment,
    };
  },
  exitCode: () => EXIT.ok,
  render: (result) => [
    `committed ${result.commit.slice(0, 12)} on ${result.branch}: ${result.message}`,
    `files: ${result.files.join(", ")}`,
    ...(result.pushed ? ["pushed"] : []),
    ...(result.pullRequest ? [`pull request #${result.pullRequest.number}: ${result.pullRequest.url}`] : []),
  ],
});
