import type { IssueRecord } from "./matching.js";

/** How bad an issue is for someone about to take the update. */
export type Severity = "critical" | "high" | "medium";

export const SEVERITIES: readonly Severity[] = ["critical", "high", "medium"];

interface Rule {
  severity: Severity;
  /** What the issue shows, for the `why` a person reads. */
  what: string;
  label?: RegExp;
  title?: RegExp;
}

/**
 * The rules in order of precedence: the first that fits decides. Labels are nixpkgs' own triage and
 * come first; the title is what the reporter saw. The body is not read: nixpkgs' issue template
 * mentions booting, hardware and security in every issue, so keywords there would class everything.
 */
const RULES: Rule[] = [
  { severity: "critical", what: "security issue", label: /^(0\.kind|6\.topic|1\.severity): security$/i },
  { severity: "critical", what: "blocker", label: /^1\.severity: (channel )?blocker$/i },
  {
    severity: "critical",
    what: "boot failure",
    title:
      /\b(fails? to boot|boot (failure|fails|loop|hang)|(won'?t|does ?n[o']t|cannot|can'?t) boot|unbootable|kernel panic|emergency (mode|shell)|stuck at boot)\b/i,
  },
  {
    severity: "critical",
    what: "data loss",
    title:
      /\b(data loss|loses? (data|files)|corrupt(s|ed|ion)?|wipes?|deletes? (all|user|home)|destroy(s|ed)?)\b/i,
  },
  {
    severity: "critical",
    what: "security issue",
    title: /\b(CVE-\d{4}-\d+|vulnerab\w*|security|exploit\w*)\b/i,
  },
  {
    severity: "critical",
    what: "build broken on the channel",
    title:
      /\b(build (failure|fails|broken)|fails? to build|broken build)\b.*\b(nixos-unstable|nixpkgs-unstable|unstable|channel|hydra|nixos-\d\d\.\d\d|master)\b|\b(nixos-unstable|nixpkgs-unstable|channel|hydra|nixos-\d\d\.\d\d)\b.*\b(build (failure|fails|broken)|fails? to build)\b/i,
  },
  { severity: "high", what: "regression", label: /^0\.kind: regression$/i },
  {
    severity: "high",
    what: "regression",
    title: /\b(regress\w*|no longer works?|stopped working|broke(n)? after)\b/i,
  },
  {
    severity: "high",
    what: "crash",
    title:
      /\b(crash\w*|segfault\w*|segmentation fault|core dump\w*|SIGSEGV|SIGABRT|hangs?|freez\w*|panics?)\b/i,
  },
  {
    severity: "high",
    what: "hardware breakage",
    title:
      /\b(nvidia|amdgpu|radeon|i915|gpu|graphics|display|monitor|wi-?fi|wireless|bluetooth|audio|sound|suspend|resume|hibernat\w*|touchpad|firmware|driver\w*|usb|thunderbolt)\b/i,
  },
  {
    severity: "high",
    what: "build failure",
    label: /^0\.kind: build failure$/i,
  },
  { severity: "high", what: "build failure", title: /\b(build (failure|fails|broken)|fails? to build)\b/i },
];

export interface Classification {
  severity: Severity;
  why: string;
}

/** Classes one issue: critical, high, or medium when no rule fits, with the evidence in `why`. */
export function classifyIssue(issue: Pick<IssueRecord, "title" | "labels">): Classification {
  for (const rule of RULES) {
    if (rule.label) {
      const label = issue.labels.find((l) => rule.label?.test(l));
      if (label) return { severity: rule.severity, why: `${rule.what}: labelled "${label}"` };
    }
    if (rule.title) {
      const match = rule.title.exec(issue.title);
      if (match) return { severity: rule.severity, why: `${rule.what}: title says "${match[0]}"` };
    }
  }
  return {
    severity: "medium",
    why: "no sign of boot failure, data loss, security, regression, crash or hardware breakage in labels or title",
  };
}
