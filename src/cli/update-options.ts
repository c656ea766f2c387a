/**
 * The options of the commands that change flake.lock and deploy it (update, smart-update,
 * restore-lock): the deploy settings, and for update and smart-update the inputs and the commit.
 */
import {
  ALL_OPTION,
  CONFIRM_TIMEOUT_OPTION,
  MODE_OPTION,
  numberOption,
  type Options,
  selectors,
  type Values,
} from "./command.js";
import { generations, hostLine, width } from "./format.js";

export const DEPLOY_SETTINGS_OPTIONS: Options = {
  ...ALL_OPTION,
  ...MODE_OPTION,
  goal: {
    type: "string",
    value: "GOAL",
    description: "switch (default), boot or test",
    field: "goal",
    complete: ["switch", "boot", "test", "dry-activate"],
  },
  ...CONFIRM_TIMEOUT_OPTION,
};

export const deploySettingsInput = (values: Values, positionals: string[]) => ({
  hosts: selectors(values, positionals, false),
  mode: values.mode,
  goal: values.goal,
  confirmTimeoutSec: numberOption(values["confirm-timeout"]),
});

export const UPDATE_OPTIONS: Options = {
  ...DEPLOY_SETTINGS_OPTIONS,
  input: {
    type: "string",
    multiple: true,
    value: "NAME",
    description: "update only this input (repeatable; default: all)",
    field: "inputs",
  },
  commit: { type: "boolean", description: "after a successful deploy, commit flake.lock" },
  issue: { type: "string", value: "N", description: "the issue the commit references: (#N)" },
  branch: { type: "string", value: "NAME", description: "commit on this new branch" },
  push: { type: "boolean", description: "push the commit to origin" },
  "pull-request": { type: "boolean", description: "open a pull request after pushing (needs GITHUB_TOKEN)" },
};

export const updateInput = (values: Values, positionals: string[]) => {
  const commitAsked = values.commit || values.issue || values.branch || values.push || values["pull-request"];
  return {
    ...deploySettingsInput(values, positionals),
    inputs: values.input,
    commit: commitAsked
      ? {
          issue: numberOption(values.issue),
          branch: values.branch,
          push: values.push || values["pull-request"] ? true : undefined,
          pullRequest: values["pull-request"] ? {} : undefined,
        }
      : undefined,
  };
};

/** The deployment an update ran, a line per host. */
export const deploymentLines = (deployment?: {
  deploymentId: string;
  status: string;
  summary: string;
  hosts: Array<{
    host: string;
    outcome: string;
    generationBefore?: number;
    generationAfter?: number;
    error?: string;
  }>;
}): string[] => {
  if (!deployment) return [];
  const w = width(deployment.hosts);
  return [
    ...deployment.hosts.map((h) =>
      hostLine(
        h.host,
        `${h.outcome}${generations(h.generationBefore, h.generationAfter)}${h.error ? `: ${h.error}` : ""}`,
        w,
      ),
    ),
    `deployment ${deployment.deploymentId} ${deployment.status}: ${deployment.summary}`,
  ];
};

/** What an update changed: the inputs that moved and the package changes per host. */
export const updateLines = (result: {
  inputs: Array<{ input: string; oldRev?: string; newRev?: string }>;
  changes: Array<{ host: string; packageChanges: string[]; changeCount: number }>;
}): string[] => {
  const w = width(result.changes);
  return [
    ...result.inputs.map((i) => `input ${i.input}: ${i.oldRev ?? "?"} → ${i.newRev ?? "?"}`),
    ...result.changes.flatMap((c) => [
      hostLine(c.host, c.changeCount ? `${c.changeCount} change(s)` : "no changes", w),
      ...c.packageChanges.map((p) => `${" ".repeat(w)}   ${p}`),
    ]),
  ];
};
