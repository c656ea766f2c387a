import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { deploy } from "../deploy/deployment.js";
import { type DeployResult, deployOptionsSchema } from "../deploy/schemas.js";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import { type Hooks, operation } from "../hooks.js";
import { type DeploymentSummary, deploymentSummarySchema, nextSchema } from "../schemas.js";
import { servedFlake } from "../trust.js";
import { backUpLock, findLockBackup, readLockBackup, writeLock } from "./backups.js";
import { type CommitResult, commitChanges, commitRequestSchema, commitResultSchema } from "./commit.js";
import { inputNameSchema, movedInputSchema, type Preview, preview } from "./preview.js";

/**
 * `update`: the previewed lock is written to the user's flake (the old one backed up first) and
 * deployed with the deploy engine; `restore_lock` puts a backed-up lock back and can redeploy it.
 * The lock written is exactly the one the preview built, never a second `nix flake update` that
 * could have moved further.
 */

/** How the updated flake is deployed: the deploy tool's own settings, so both read the same. */
const deploySettings = deployOptionsSchema.pick({
  hosts: true,
  mode: true,
  goal: true,
  confirmTimeoutSec: true,
}).shape;

type DeploySettings = z.infer<z.ZodObject<typeof deploySettings>>;

/** Deploys the flake as it is now (with the lock just written) to the chosen hosts. */
function deployFlake(engine: Engine, flake: string, settings: DeploySettings, hooks: Hooks) {
  const { hosts, mode, goal, confirmTimeoutSec } = settings;
  return deploy(engine, { flake, hosts, mode, goal, confirmTimeoutSec }, hooks);
}

export const updateOptionsSchema = z.object({
  ...deploySettings,
  inputs: z
    .array(inputNameSchema)
    .min(1)
    .optional()
    .describe('inputs to update, e.g. ["nixpkgs"] (default: all)'),
  commit: commitRequestSchema
    .optional()
    .describe("after a successful deploy, commit flake.lock (and push, open a PR)"),
});
export type UpdateOptions = z.infer<typeof updateOptionsSchema> & { flake?: string };

export function summarizeDeployment(result: DeployResult): DeploymentSummary {
  return {
    deploymentId: result.deploymentId,
    status: result.status,
    summary: result.summary,
    hosts: result.hosts.map(({ host, outcome, generationBefore, generationAfter, error }) => ({
      host,
      outcome,
      generationBefore,
      generationAfter,
      error,
    })),
  };
}

export const updateResultSchema = z.object({
  status: z
    .enum(["updated", "up-to-date", "failed", "blocked", "needs-confirmation", "declined"])
    .describe(
      "updated: lock applied and deployed; failed: not built or not deployed; blocked/needs-confirmation/declined: the lock is untouched",
    ),
  summary: z.string(),
  inputs: z.array(movedInputSchema),
  changes: z
    .array(z.object({ host: z.string(), packageChanges: z.array(z.string()), changeCount: z.number() }))
    .describe("per host, at most 10 lines; preview_updates has the rest"),
  lockBackup: z.string().optional().describe("the backup of the previous flake.lock, for restore_lock"),
  deployment: deploymentSummarySchema.optional(),
  commit: commitResultSchema.optional(),
  commitError: z
    .string()
    .optional()
    .describe("the deploy succeeded but committing, pushing or the pull request did not"),
  next: nextSchema,
});
export type UpdateResult = z.infer<typeof updateResultSchema>;

export const update = operation<UpdateOptions, UpdateResult>(async (engine, options, hooks) => {
  const flake = servedFlake(engine, options.flake);
  const previewed = await preview(engine, { hosts: options.hosts, inputs: options.inputs, flake }, hooks);
  return applyUpdate(engine, { ...options, flake }, previewed, hooks);
});

/** The part of an update's result that the preview decides. */
export function previewPart(previewed: Preview): Pick<UpdateResult, "inputs" | "changes"> {
  return {
    inputs: previewed.result.inputs,
    changes: previewed.result.hosts.map((h) => ({
      host: h.host,
      packageChanges: [
        ...h.packageChanges,
        ...h.added.map((a) => `${a}: new`),
        ...h.removed.map((r) => `${r}: removed`),
      ].slice(0, 10),
      changeCount: h.changeCount,
    })),
  };
}

/** Writes the previewed lock (after backing up the current one), deploys it, and commits when asked. */
export async function applyUpdate(
  engine: Engine,
  options: UpdateOptions & { flake: string },
  previewed: Preview,
  hooks: Hooks,
): Promise<UpdateResult> {
  const { flake } = options;
  const part = previewPart(previewed);
  const failedHosts = previewed.result.hosts.filter((h) => h.error);
  if (failedHosts.length) {
    return {
      status: "failed",
      summary: `the new lock does not build for ${failedHosts.map((h) => h.host).join(", ")}; flake.lock untouched`,
      ...part,
      next: failedHosts.map((h) => `${h.host}: ${h.error}`).join("\n"),
    };
  }
  if (previewed.result.inputs.length === 0) {
    return {
      status: "up-to-date",
      summary: "no input moved; flake.lock untouched",
      ...part,
      next: "nothing to do",
    };
  }
  const lockFile = join(flake, "flake.lock");
  const now = existsSync(lockFile) ? readFileSync(lockFile, "utf8") : undefined;
  if (now !== previewed.lockBefore) {
    throw new UserError(
      "flake.lock changed while the update was being previewed",
      "run the update again; it previews the lock as it is now",
    );
  }
  const backup = previewed.lockBefore === undefined ? undefined : backUpLock(engine.env, flake, "update");
  writeLock(flake, previewed.lockAfter);
  engine.log.info(
    { flake, backup: backup?.id, inputs: part.inputs.map((i) => i.input) },
    "flake.lock updated",
  );
  hooks.progress(`flake.lock updated${backup ? ` (backup ${backup.id})` : ""}; deploying`);

  const deployed = await deployFlake(engine, flake, options, hooks);
  const restoreHint = backup
    ? `restore_lock (backup ${backup.id}, redeploy: true) returns to the previous lock`
    : "";
  let commit: CommitResult | undefined;
  let commitError: string | undefined;
  if (deployed.status === "succeeded" && options.commit) {
    // The hosts run the new lock whatever happens to the commit: report its failure, do not throw it.
    try {
      commit = await commitChanges(engine, flake, options.commit, {
        files: ["flake.lock"],
        type: "chore",
        scope: "flake",
        subject: `update ${part.inputs.map((i) => i.input).join(", ")}`,
      });
    } catch (error) {
      commitError = describeError(error);
    }
  }
  return {
    status: deployed.status === "succeeded" ? "updated" : "failed",
    summary:
      deployed.status === "succeeded"
        ? `updated ${part.inputs.map((i) => i.input).join(", ")} and deployed: ${deployed.summary}`
        : `flake.lock updated but the deployment failed: ${deployed.summary}`,
    ...part,
    lockBackup: backup?.id,
    deployment: summarizeDeployment(deployed),
    commit,
    commitError,
    next:
      deployed.status === "succeeded"
        ? `done; ${restoreHint || "host_status shows each host's generations"}`
        : `${deployed.next}; or ${restoreHint}`,
  };
}

export const restoreLockOptionsSchema = z.object({
  backup: z.string().min(1).optional().describe('the backup id update reported, or "latest" (default)'),
  redeploy: z.boolean().optional().describe("deploy the restored lock to the hosts afterwards"),
  ...deploySettings,
});
export type RestoreLockOptions = z.infer<typeof restoreLockOptionsSchema> & { flake?: string };

export const restoreLockResultSchema = z.object({
  status: z.enum(["restored", "unchanged", "failed"]),
  summary: z.string(),
  restored: z.string().describe("the backup put back"),
  replacedLockBackup: z.string().optional().describe("the lock that was replaced, itself backed up"),
  deployment: deploymentSummarySchema.optional(),
  next: nextSchema,
});
export type RestoreLockResult = z.infer<typeof restoreLockResultSchema>;

export const restoreLock = operation<RestoreLockOptions, RestoreLockResult>(
  async (engine, options, hooks) => {
    const flake = servedFlake(engine, options.flake);
    // The deploy settings only mean something for the deployment `redeploy` starts.
    const deploySettingsGiven = Object.keys(deploySettings).filter(
      (field) => options[field as keyof DeploySettings] !== undefined,
    );
    if (!options.redeploy && deploySettingsGiven.length)
      throw new UserError(
        `${deploySettingsGiven.join(", ")} ${deploySettingsGiven.length === 1 ? "sets" : "set"} how the restored lock is deployed, and nothing is deployed without redeploy: true`,
        "add redeploy: true to deploy the restored lock, or leave them out to only restore flake.lock",
      );
    const chosen = findLockBackup(engine.env, flake, options.backup);
    const text = readLockBackup(engine.env, chosen);
    const lockFile = join(flake, "flake.lock");
    const same = existsSync(lockFile) && readFileSync(lockFile, "utf8") === text;
    // The lock being replaced is backed up too, so a restore can itself be undone.
    const replaced = same || !existsSync(lockFile) ? undefined : backUpLock(engine.env, flake, "restore");
    if (!same) writeLock(flake, text);
    engine.log.info({ flake, restored: chosen.id, replaced: replaced?.id }, "flake.lock restored");
    const summary = same
      ? `flake.lock already is backup ${chosen.id}`
      : `flake.lock restored from backup ${chosen.id}`;
    if (!options.redeploy) {
      return {
        status: same ? "unchanged" : "restored",
        summary,
        restored: chosen.id,
        replacedLockBackup: replaced?.id,
        next: "deploy (or call restore_lock with redeploy: true) to put the hosts on the restored lock",
      };
    }
    hooks.progress(`${summary}; deploying`);
    const deployed = await deployFlake(engine, flake, options, hooks);
    return {
      status: deployed.status === "succeeded" ? (same ? "unchanged" : "restored") : "failed",
      summary: `${summary}; ${deployed.summary}`,
      restored: chosen.id,
      replacedLockBackup: replaced?.id,
      deployment: summarizeDeployment(deployed),
      next: deployed.next,
    };
  },
);
