import { securityAudit } from "../analysis/audit.js";
import { scanAntipatterns, validateSyntax } from "../analysis/scan.js";
import type { Engine } from "../engine.js";
import { describeError } from "../errors.js";
import { quietHooks } from "../hooks.js";
import type { HostEvaluation } from "./evaluation.js";
import type { DeployMode } from "./record.js";
import type { ValidationCheck } from "./schemas.js";

/** How many findings a check asks for: its detail names the first; the counts cover all. */
export const FINDINGS_PER_CHECK = 3;

/**
 * Phase 1 of `/nix-deploy` by mode: standard runs syntax, anti-patterns (blocking ones stop the
 * deployment) and the security audit (warns); fast runs syntax only; emergency runs none, and keeps
 * only the rollback point and magic rollback.
 */
export async function validateForMode(
  engine: Engine,
  flake: string,
  mode: DeployMode,
  hosts: string[],
  signal?: AbortSignal,
  evaluation?: HostEvaluation,
): Promise<ValidationCheck[]> {
  if (mode === "emergency") return [];
  const checks: ValidationCheck[] = [];
  const timed = async (check: string, work: () => Promise<Omit<ValidationCheck, "check" | "durationMs">>) => {
    const started = Date.now();
    let outcome: Omit<ValidationCheck, "check" | "durationMs">;
    try {
      outcome = await work();
    } catch (error) {
      outcome = { status: "fail", detail: describeError(error) };
    }
    const entry = { check, durationMs: Date.now() - started, ...outcome };
    checks.push(entry);
    return entry;
  };
  const syntax = await timed("syntax", async () => {
    const result = await validateSyntax(engine, { flake, limit: FINDINGS_PER_CHECK });
    return { status: result.errorCount > 0 ? "fail" : "pass", detail: result.summary };
  });
  if (mode === "fast" || syntax.status === "fail") return checks;
  const scan = await timed("anti-patterns", async () => {
    const result = await scanAntipatterns(engine, { flake, limit: FINDINGS_PER_CHECK });
    const first = result.findings.find((f) => f.severity === "block");
    return {
      status: result.counts.block > 0 ? "fail" : result.counts.warn > 0 ? "warn" : "pass",
      detail: first
        ? `${result.summary}; first blocking: ${first.file}:${first.line}: ${first.message}`
        : result.summary,
    };
  });
  if (scan.status === "fail") return checks;
  await timed("security audit", async () => {
    const result = await securityAudit(
      engine,
      { flake, hosts, limit: FINDINGS_PER_CHECK, evaluation },
      quietHooks({ signal }),
    );
    // The audit warns and never blocks: a new risk is for the person to weigh, not a syntax error.
    return { status: result.counts.warn + result.counts.block > 0 ? "warn" : "pass", detail: result.summary };
  });
  return checks;
}
