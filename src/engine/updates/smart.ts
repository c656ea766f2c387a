import { z } from "zod";
import { validateSyntax } from "../analysis/scan.js";
import { derivationOf } from "../deploy/build.js";
import { FINDINGS_PER_CHECK } from "../deploy/validation.js";
import type { Engine } from "../engine.js";
import { discoverFleet, selectFlakeHosts } from "../fleet/hosts.js";
import { type Hooks, operation } from "../hooks.js";
import { mapLimit } from "../process.js";
import { servedFlake } from "../trust.js";
import { lockedNixpkgs } from "./flake-lock.js";
import { checkIssuesForUpdate, type IssueCheckResult, packageNameSchema } from "./issue-check.js";
import { type Preview, preview } from "./preview.js";
import { assessRisk, type IssueCheckSummary, type RiskAssessment, riskAssessmentSchema } from "./risk.js";
import { applyUpdate, previewPart, updateOptionsSchema, updateResultSchema } from "./update.js";

/**
 * The smart update: the preview (flake update and build of every host with the new lock) and an
 * evaluation of every host's configuration as it is now run side by side; the nixpkgs issue check
 * then asks about exactly the packages the preview found changing. One verdict comes of all of them:
 * proceed applies the update, confirm needs the user's yes (asked through the client when it can
 * be asked, else an explicit `confirm: true`), block never touches the lock.
 */

export const smartUpdateOptionsSchema = updateOptionsSchema.extend({
  confirm: z
    .boolean()
    .optional()
    .describe(
      "the user saw the risks and approves; counts only when the client cannot ask the user (they are asked otherwise)",
    ),
  since: z
    .string()
    .optional()
    .describe("search issues updated since this date (default: the locked nixpkgs' lastModified)"),
  refresh: z.boolean().optional().describe("ask GitHub again instead of using cached answers"),
});
export type SmartUpdateOptions = z.infer<typeof smartUpdateOptionsSchema> & { flake?: string };

const MAX_ISSUE_LINES = 5;

export const smartUpdateResultSchema = updateResultSchema.extend({
  verdict: riskAssessmentSchema,
  checks: z.object({
    issues: z.object({
      status: z.enum(["ok", "degraded", "unavailable", "skipped"]),
      reason: z.string().optional(),
      counts: z.object({ critical: z.number(), high: z.number(), medium: z.number() }),
      top: z.array(z.string()).describe("the worst matches: severity #number title (package), at most 5"),
    }),
    validation: z.object({
      ok: z.boolean(),
      method: z
        .literal("syntax+evaluation")
        .describe("every .nix file parsed, and each host's system evaluated with the current lock"),
      errors: z.array(z.object({ host: z.string(), error: z.string() })),
    }),
    build: z.object({ ok: z.boolean(), failedHosts: z.array(z.string()) }),
  }),
  confirmedBy: z
    .enum(["verdict", "argument", "user"])
    .optional()
    .describe(
      "what let the update go ahead: a proceed verdict, confirm: true, or the user's answer to the question",
    ),
});
export type SmartUpdateResult = z.infer<typeof smartUpdateResultSchema>;

export const smartUpdate = operation<SmartUpdateOptions, SmartUpdateResult>(
  async (engine, options, hooks) => {
    const flake = servedFlake(engine, options.flake);
    hooks.progress("previewing the update and evaluating the configuration, in parallel");
    const [previewed, validation] = await Promise.all([
      preview(engine, { hosts: options.hosts, inputs: options.inputs, flake }, hooks),
      validateHosts(engine, flake, options.hosts, hooks.signal),
    ]);
    const issues = await checkIssues(engine, options, flake, previewed, hooks);
    const failedHosts = previewed.result.hosts.filter((h) => h.error).map((h) => h.host);
    const matches = issues
      ? [...issues.matches.critical, ...issues.matches.high, ...issues.matches.medium]
      : [];
    const issueSummary: IssueCheckSummary = issues
      ? { status: issues.status, reason: issues.reason, matches }
      : { status: "ok", matches: [] };
    const verdict = shortened(
      assessRisk({
        issues: issueSummary,
        preview: { changedPackages: previewed.changing.length, hosts: previewed.result.hosts.length },
        scan: { errors: validation.length, warnings: 0, firstError: validation[0]?.error },
        build: { ok: failedHosts.length === 0, failedHosts },
        pin: lockedNixpkgs(flake),
      }),
    );
    const checks: SmartUpdateResult["checks"] = {
      issues: {
        status: issues?.status ?? "skipped",
        reason: issues ? issues.reason : "no package changes, nothing to look up",
        counts: {
          critical: issues?.matches.critical.length ?? 0,
          high: issues?.matches.high.length ?? 0,
          medium: issues?.matches.medium.length ?? 0,
        },
        top: matches
          .slice(0, MAX_ISSUE_LINES)
          .map(
            (m) =>
              `${m.severity} #${m.number} ${m.title} (${m.package})${m.fixed ? " [fixed in the new lock]" : ""}`,
          ),
      },
      validation: { ok: validation.length === 0, method: "syntax+evaluation", errors: validation },
      build: { ok: failedHosts.length === 0, failedHosts },
    };
    engine.log.info({ verdict: verdict.verdict, reasons: verdict.reasons }, "smart update assessed");
    const untouched = (
      status: "blocked" | "needs-confirmation" | "declined",
      summary: string,
      next: string,
    ) => ({
      status,
      summary,
      ...previewPart(previewed),
      verdict,
      checks,
      next,
    });

    if (verdict.verdict === "block") {
      return untouched(
        "blocked",
        `blocked: ${verdict.reasons[0]}; flake.lock untouched`,
        "Do not update. Offer the suggestions (pin the input or hold the packages) and check again once the issues are fixed.",
      );
    }
    let confirmedBy: SmartUpdateResult["confirmedBy"] = "verdict";
    if (verdict.verdict === "confirm") {
      // The user is asked whenever the client can ask them: `confirm: true` comes from the model, which
      // could approve by itself, so it counts only where no question can reach the user.
      const answer = await hooks.confirm(question(previewed, verdict));
      if (answer === false)
        return untouched("declined", "the user declined the update; flake.lock untouched", "nothing to do");
      if (answer === true) confirmedBy = "user";
      else if (options.confirm) confirmedBy = "argument";
      else {
        return untouched(
          "needs-confirmation",
          `needs the user's yes: ${verdict.reasons[0]}; flake.lock untouched`,
          "Show the user the reasons and changes; if they approve, call smart_update again with confirm: true.",
        );
      }
    }
    hooks.progress(
      `verdict ${verdict.verdict}${confirmedBy === "verdict" ? "" : ", confirmed"}: applying the update`,
    );
    const applied = await applyUpdate(engine, { ...options, flake }, previewed, hooks);
    return { ...applied, verdict, checks, confirmedBy };
  },
);

/** The issue check for the packages the preview found changing; undefined when none change. */
async function checkIssues(
  engine: Engine,
  options: SmartUpdateOptions,
  flake: string,
  previewed: Preview,
  hooks: Hooks,
): Promise<IssueCheckResult | undefined> {
  // Only names that can go into a GitHub query safely; the closure diff's names almost always can.
  const packages = previewed.changing
    .filter((p) => packageNameSchema.safeParse(p.name).success)
    .slice(0, 200);
  if (packages.length === 0) return undefined;
  hooks.progress(`checking nixpkgs issues for ${packages.length} changing package(s)`);
  return checkIssuesForUpdate(
    engine,
    {
      packages,
      since: options.since,
      newLockDate: previewed.newLockDate?.toISOString(),
      refresh: options.refresh,
      flake,
    },
    hooks,
  );
}

/** Every .nix file's syntax, then each selected host's system evaluated as the flake is now. */
async function validateHosts(
  engine: Engine,
  flake: string,
  selectors: string[] | undefined,
  signal?: AbortSignal,
): Promise<Array<{ host: string; error: string }>> {
  const fleet = await discoverFleet(engine, { flake, signal });
  const hosts = selectFlakeHosts(fleet, selectors ?? ["all"]);
  // Syntax first, in one pass over every file: it names file:line:column where evaluation would not.
  const syntax = await validateSyntax(engine, { flake, limit: FINDINGS_PER_CHECK });
  const syntaxErrors = syntax.errors.map((e) => ({
    host: "(flake)",
    error: `${e.file}:${e.line}:${e.column}: ${e.message}`,
  }));
  const results = await mapLimit(hosts, engine.parallelism, async (host) => {
    try {
      await derivationOf(engine, flake, host.name, signal);
      return undefined;
    } catch (error) {
      return { host: host.name, error: (error as Error).message.split("\n").slice(0, 6).join("\n") };
    }
  });
  return [...syntaxErrors, ...results.filter((r): r is { host: string; error: string } => r !== undefined)];
}

function question(previewed: Preview, verdict: RiskAssessment): string {
  const changes = previewed.result.hosts
    .filter((h) => h.changeCount > 0)
    .map((h) => `${h.host}: ${[...h.packageChanges, ...h.added].slice(0, 5).join(", ")}`);
  return [
    `Apply the flake update (${previewed.result.inputs.map((i) => i.input).join(", ")}) and deploy it?`,
    ...verdict.reasons.slice(0, 5).map((r) => `- ${r}`),
    ...(changes.length ? ["Changes:", ...changes] : []),
  ].join("\n");
}

const MAX_REASONS = 8;

/** A long list of medium matches would swamp the result; the worst reasons come first anyway. */
function shortened(assessment: RiskAssessment): RiskAssessment {
  const { reasons } = assessment;
  if (reasons.length <= MAX_REASONS) return assessment;
  return {
    ...assessment,
    reasons: [
      ...reasons.slice(0, MAX_REASONS),
      `and ${reasons.length - MAX_REASONS} more (check_nixpkgs_issues lists them)`,
    ],
  };
}
