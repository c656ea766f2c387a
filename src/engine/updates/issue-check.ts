import { z } from "zod";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { type Hooks, quietHooks } from "../hooks.js";
import { nextSchema } from "../schemas.js";
import { servedFlake } from "../trust.js";
import { lockedNixpkgs } from "./flake-lock.js";
import { type GithubSettings, githubSettings, IssueSearch } from "./github.js";
import type { ChangingPackage } from "./matching.js";
import { checkNixpkgsIssues, checkStatusSchema, issueMatchSchema } from "./nixpkgs-issues.js";
import { assessRisk, nextStepFor, riskAssessmentSchema } from "./risk.js";

/** The engine operation behind `check_nixpkgs_issues`; its schemas are the tool's contract. */

/**
 * Attribute-like package names only: they go into a GitHub query, so nothing in them may add a
 * qualifier (`repo:`, `label:`) or break out of the quotes.
 */
export const packageNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/, "a package name (letters, digits and . _ + -), e.g. systemd")
  .describe("package name as the closure diff prints it, e.g. systemd");

const versionSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/, "a version such as 254.6")
  .optional();

export const changingPackageSchema = z.union([
  packageNameSchema,
  z.object({ name: packageNameSchema, oldVersion: versionSchema, newVersion: versionSchema }),
]);

/** No lock to read: a month back covers the usual interval between `nix flake update`s. */
const DEFAULT_SINCE_DAYS = 30;

const shortMatchSchema = issueMatchSchema.pick({
  number: true,
  title: true,
  url: true,
  package: true,
  severity: true,
  why: true,
  labels: true,
  fixed: true,
});

export const issueCheckResultSchema = z.object({
  status: checkStatusSchema,
  reason: z.string().optional().describe("why the check is degraded or unavailable"),
  since: z.string().describe("issues updated on or after this date were searched"),
  sinceFrom: z.enum(["input", "flake.lock", "default"]),
  authenticated: z.boolean().describe("whether a GitHub token was used (GITHUB_TOKEN or gh's config)"),
  searches: z.object({
    total: z.number(),
    answered: z.number(),
    fromCache: z.number(),
    requests: z.number().describe("HTTP requests sent to GitHub by this check"),
  }),
  matches: z.object({
    critical: z.array(shortMatchSchema),
    high: z.array(shortMatchSchema),
    medium: z.array(shortMatchSchema),
  }),
  verdict: riskAssessmentSchema,
  next: nextSchema,
});
export type IssueCheckResult = z.infer<typeof issueCheckResultSchema>;

export interface IssueCheckInput {
  packages: Array<z.infer<typeof changingPackageSchema>>;
  since?: string;
  newLockDate?: string;
  refresh?: boolean;
  flake?: string;
}

function parseDate(field: string, value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new UserError(`${field}: "${value}" is not a date`, "give an ISO date such as 2026-10-01");
  }
  return date;
}

export async function checkIssuesForUpdate(
  engine: Engine,
  input: IssueCheckInput,
  hooks: Hooks = quietHooks(),
  /** Where GitHub is and how to reach it; a test points it at a recorded fake. */
  settings: GithubSettings = githubSettings(engine.env),
): Promise<IssueCheckResult> {
  if (input.packages.length === 0) {
    throw new UserError("packages: the list is empty", "name the packages the update changes, e.g. systemd");
  }
  const packages: ChangingPackage[] = input.packages.map((p) => (typeof p === "string" ? { name: p } : p));
  const locked = lockedNixpkgs(servedFlake(engine, input.flake));
  let since: Date;
  let sinceFrom: IssueCheckResult["sinceFrom"];
  if (input.since) {
    since = parseDate("since", input.since);
    sinceFrom = "input";
  } else if (locked?.lastModified) {
    since = locked.lastModified;
    sinceFrom = "flake.lock";
  } else {
    since = new Date(Date.now() - DEFAULT_SINCE_DAYS * 86_400_000);
    sinceFrom = "default";
  }
  const newLockDate = input.newLockDate ? parseDate("newLockDate", input.newLockDate) : undefined;

  const search = new IssueSearch(settings, engine.log);
  const check = await checkNixpkgsIssues(search, {
    packages,
    since,
    newLockDate,
    refresh: input.refresh,
    signal: hooks.signal,
  });
  const verdict = assessRisk({ issues: check, pin: locked });
  const grouped: IssueCheckResult["matches"] = { critical: [], high: [], medium: [] };
  for (const m of check.matches) grouped[m.severity].push(shortMatchSchema.parse(m));
  engine.log.info(
    {
      packages: packages.length,
      status: check.status,
      matches: check.matches.length,
      requests: check.searches.requests,
      tokenSource: settings.tokenSource,
      verdict: verdict.verdict,
    },
    "nixpkgs issues checked",
  );
  return {
    status: check.status,
    reason: check.reason,
    since: since.toISOString().slice(0, 10),
    sinceFrom,
    authenticated: settings.tokenSource !== "none",
    searches: check.searches,
    matches: grouped,
    verdict,
    next: nextStepFor(verdict),
  };
}
