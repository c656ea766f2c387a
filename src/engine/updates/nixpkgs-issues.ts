import { z } from "zod";
import { classifyIssue, type Severity } from "./classify.js";
import type { IssueSearch, SearchAnswer } from "./github.js";
import {
  type ChangingPackage,
  fixedInNewLock,
  type IssueRecord,
  mentionsPackage,
  relateVersions,
  versionsNamed,
} from "./matching.js";

/**
 * The labels searched one query each: GitHub ANDs labels given in one query, so asking for all of
 * them at once finds only issues carrying every one (a checker that queried them together found almost nothing).
 */
export const ISSUE_LABELS = [
  "0.kind: regression",
  "0.kind: security",
  "6.topic: security",
  "1.severity: blocker",
];

/** GitHub's search allows five AND/OR/NOT operators and 256 characters per query. */
const NAMES_PER_QUERY = 6;
const QUERY_LIMIT = 256;

export interface IssueQuery {
  /** What the query looks for, for a person: `label "0.kind: regression"`, `titles naming firefox, linux`. */
  about: string;
  q: string;
}

/** One query per label, plus title searches for the names in groups that fit GitHub's limits. */
export function issueQueries(packages: ChangingPackage[], since: Date): IssueQuery[] {
  const scope = `repo:NixOS/nixpkgs is:issue updated:>=${since.toISOString().slice(0, 10)}`;
  const queries: IssueQuery[] = ISSUE_LABELS.map((label) => ({
    about: `label "${label}"`,
    q: `${scope} label:"${label}"`,
  }));
  const names = [...new Set(packages.map((p) => p.name))];
  let group: string[] = [];
  const flush = () => {
    if (group.length === 0) return;
    queries.push({
      about: `titles naming ${group.join(", ")}`,
      q: `${scope} in:title ${group.map((n) => `"${n}"`).join(" OR ")}`,
    });
    group = [];
  };
  for (const name of names) {
    const longer = `${scope} in:title ${[...group, name].map((n) => `"${n}"`).join(" OR ")}`;
    if (group.length === NAMES_PER_QUERY || (group.length > 0 && longer.length > QUERY_LIMIT)) flush();
    group.push(name);
  }
  flush();
  return queries;
}

export const checkStatusSchema = z
  .enum(["ok", "degraded", "unavailable"])
  .describe(
    "ok: every search answered; degraded: some did not or came back incomplete; unavailable: none did",
  );

export const issueMatchSchema = z.object({
  number: z.number(),
  title: z.string(),
  url: z.string(),
  state: z.enum(["open", "closed"]),
  labels: z.array(z.string()),
  package: z.string().describe("the changing package the issue names"),
  versions: z.array(z.string()).describe("versions of the package the issue names"),
  severity: z.enum(["critical", "high", "medium"]),
  why: z.string().describe("what made it this severity, and how its versions relate to the update"),
  fixed: z.string().optional().describe("why the new lock already has the fix; absent when nothing says so"),
});
export type IssueMatch = z.infer<typeof issueMatchSchema>;

export interface IssueCheck {
  status: z.infer<typeof checkStatusSchema>;
  reason?: string;
  searches: { total: number; answered: number; fromCache: number; requests: number };
  matches: IssueMatch[];
}

export interface IssueCheckOptions {
  packages: ChangingPackage[];
  /** The locked nixpkgs' date: older issues were there before and are not news of this update. */
  since: Date;
  /** The new lock's date: an issue closed before it is fixed in what the update brings. */
  newLockDate?: Date;
  refresh?: boolean;
  signal?: AbortSignal;
}

const ORDER: Record<Severity, number> = { critical: 0, high: 1, medium: 2 };

/** Each (issue, package) pair where the issue names the package, classified and checked for a fix. */
export function matchIssues(
  issues: IssueRecord[],
  packages: ChangingPackage[],
  newLockDate?: Date,
): IssueMatch[] {
  const matches: IssueMatch[] = [];
  for (const issue of issues) {
    for (const pkg of packages) {
      if (!mentionsPackage(pkg.name, issue.title)) continue;
      const versions = versionsNamed(pkg.name, `${issue.title}\n${issue.body}`);
      const relation = relateVersions(pkg, versions);
      const { severity, why } = classifyIssue(issue);
      const versionNote =
        relation === "new"
          ? `; names ${versions.join(", ")}, which covers the new ${pkg.newVersion}`
          : relation === "old"
            ? `; names only ${versions.join(", ")}, the version being replaced`
            : "";
      matches.push({
        number: issue.number,
        title: issue.title,
        url: issue.url,
        state: issue.state,
        labels: issue.labels,
        package: pkg.name,
        versions,
        severity,
        why: why + versionNote,
        fixed: fixedInNewLock(issue, pkg, newLockDate),
      });
    }
  }
  return matches.sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || b.number - a.number);
}

/** Why the answers fall short, or undefined when every search answered in full. */
function shortfall(queries: IssueQuery[], answers: SearchAnswer[]): Pick<IssueCheck, "status" | "reason"> {
  const failed = answers.flatMap((a, i) => (a.ok ? [] : [{ query: queries[i] as IssueQuery, answer: a }]));
  const answered = answers.length - failed.length;
  const limited = failed.find((f) => f.answer.failure === "rate limited");
  if (limited) {
    return {
      status: "degraded",
      reason: `${limited.answer.reason}; ${answered} of ${answers.length} searches answered`,
    };
  }
  const first = failed[0];
  if (first) {
    return answered === 0
      ? { status: "unavailable", reason: first.answer.reason }
      : {
          status: "degraded",
          reason: `${failed.length} of ${answers.length} searches failed (${first.query.about}): ${first.answer.reason}`,
        };
  }
  const partial = answers.flatMap((a, i) =>
    a.ok && !a.complete ? [`${(queries[i] as IssueQuery).about}: ${a.items.length} of ${a.totalCount}`] : [],
  );
  if (partial.length > 0) {
    return { status: "degraded", reason: `GitHub returned only part of the issues (${partial.join("; ")})` };
  }
  return { status: "ok" };
}

/**
 * Searches nixpkgs' issues for the changing packages and returns the matches. Never throws for
 * GitHub's sake: an unreachable or limiting GitHub makes the result degraded or unavailable, with why.
 */
export async function checkNixpkgsIssues(
  search: IssueSearch,
  options: IssueCheckOptions,
): Promise<IssueCheck> {
  const queries = issueQueries(options.packages, options.since);
  const answers: SearchAnswer[] = [];
  // One after another: a rate limit seen on one query then spares the others a refused request.
  for (const query of queries) {
    answers.push(await search.search(query.q, { refresh: options.refresh, signal: options.signal }));
  }
  const issues = new Map<number, IssueRecord>();
  for (const answer of answers)
    if (answer.ok) for (const issue of answer.items) issues.set(issue.number, issue);
  const matches = matchIssues([...issues.values()], options.packages, options.newLockDate);
  return {
    ...shortfall(queries, answers),
    searches: {
      total: queries.length,
      answered: answers.filter((a) => a.ok).length,
      fromCache: answers.filter((a) => a.ok && a.fromCache).length,
      requests: search.requests,
    },
    matches,
  };
}
