/**
 * The record of an onboarding step (add_host's plan or write), for the report: one JSON file per
 * run under the state directory, written only by its own run, 0600 like every state file.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { operation } from "../hooks.js";
import { stateDir } from "../log.js";
import { listJsonFiles, readJson, writeFileAtomic } from "../state.js";
import { realPathOf } from "../trust.js";

export const onboardingCheckSchema = z.object({
  check: z.string(),
  ok: z.boolean(),
  detail: z.string(),
});
export type OnboardingCheck = z.infer<typeof onboardingCheckSchema>;

export const onboardingRecordSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  finishedAt: z.string(),
  flake: z.string(),
  step: z.literal("add_host"),
  host: z.string(),
  status: z.enum(["planned", "written", "rolled-back"]),
  machine: z.object({
    system: z.string(),
    boot: z.string(),
    gpu: z.string(),
    disk: z.string(),
    user: z.string().optional(),
    services: z.array(z.string()),
  }),
  files: z.array(z.object({ path: z.string(), action: z.enum(["create", "change"]) })),
  checks: z.array(onboardingCheckSchema),
  backup: z.string().optional(),
  error: z.string().optional(),
  notes: z.array(z.string()),
});
export type OnboardingRecord = z.infer<typeof onboardingRecordSchema>;

const ID = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

export function onboardingDir(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "onboarding");
}

export function newOnboardingId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export function saveOnboarding(env: NodeJS.ProcessEnv, record: OnboardingRecord): void {
  writeFileAtomic(join(onboardingDir(env), `${record.id}.json`), `${JSON.stringify(record, null, 2)}\n`, {
    backup: false,
  });
}

/** This flake's onboarding runs (every flake's when undefined), newest first. */
export function listOnboarding(env: NodeJS.ProcessEnv, flake?: string): OnboardingRecord[] {
  const wanted = flake === undefined ? undefined : realPathOf(flake);
  return (
    listJsonFiles(onboardingDir(env))
      .map((file) => onboardingRecordSchema.safeParse(readJson<unknown>(file)))
      .flatMap((parsed) => (parsed.success ? [parsed.data] : []))
      .filter((r) => wanted === undefined || realPathOf(r.flake) === wanted)
      // Newest first by the time it started (ids share a second: their suffix is random).
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
  );
}

/** One run by id, or this flake's newest with "latest". */
export function loadOnboarding(env: NodeJS.ProcessEnv, idOrLatest: string, flake?: string): OnboardingRecord {
  if (idOrLatest === "latest") {
    const newest = listOnboarding(env, flake)[0];
    if (!newest) throw new UserError("no onboarding run yet for this flake", "run add_host first");
    return newest;
  }
  if (!ID.test(idOrLatest))
    throw new UserError(
      `"${idOrLatest}" is not an onboarding id`,
      "use the recordId add_host returned, or latest",
    );
  const parsed = onboardingRecordSchema.safeParse(
    readJson<unknown>(join(onboardingDir(env), `${idOrLatest}.json`)),
  );
  if (!parsed.success) {
    const recent = listOnboarding(env, flake)
      .slice(0, 5)
      .map((r) => r.id);
    throw new UserError(
      `no onboarding run ${idOrLatest}`,
      recent.length ? `recent runs, newest first: ${recent.join(", ")}` : "run add_host first",
    );
  }
  return parsed.data;
}

/** The record of an add_host run, for the CLI's `onboarding` command (the MCP side reads it as a resource). */
export const showOnboarding = operation<{ id: string }, OnboardingRecord>(async (engine, input) =>
  loadOnboarding(engine.env, input.id, engine.flake),
);
