/** The options every static analysis command shares: which files, how many findings. */
import type { Options, Values } from "./command.js";
import { flag, numberOption } from "./command.js";
import { findingLine } from "./format.js";

export const SCOPE_OPTIONS: Options = {
  changed: {
    type: "boolean",
    description: "only files changed in the git working tree (untracked ones included)",
    field: "changed",
  },
  since: {
    type: "string",
    value: "REF",
    description: "only files changed since this git ref",
    field: "since",
  },
  limit: { type: "string", value: "N", description: "how many findings to list", field: "limit" },
};

export const scopeInput = (values: Values) => ({
  changed: flag(values.changed),
  since: values.since,
  limit: numberOption(values.limit),
});

/** A finding of a rule: where, how bad, what. */
export const ruleFindingLines = (f: {
  file: string;
  line: number;
  column: number;
  code: string;
  severity: string;
  message: string;
  source?: string;
}): string[] => [
  findingLine(f, `${f.severity} ${f.code}: ${f.message}`),
  ...(f.source ? [`    ${f.source}`] : []),
];

export const skippedLines = (skipped: Array<{ file: string; reason: string }>): string[] =>
  skipped.map((s) => `skipped ${s.file}: ${s.reason}`);
