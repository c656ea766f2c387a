import { z } from "zod";
import { describeError, UserError } from "../errors.js";
import { discoverFleet, selectHosts } from "../fleet/hosts.js";
import { hostStatus } from "../fleet/status.js";
import { operation } from "../hooks.js";
import { mapLimit } from "../process.js";
import { hostResultSchema, hostSelectorSchema, nextSchema } from "../schemas.js";
import {
  DEFAULT_CONFIRM_TIMEOUT_SEC,
  earlierActivationBoundSec,
  newNonce,
  settleEarlierActivations,
} from "./activation.js";
import { homeManagerUserSchema, rollbackHome } from "./home-rollback.js";
import { acquireHostLock } from "./host-lock.js";
import { newDeploymentId } from "./record.js";
import { confirmTimeoutSchema, type HostDetails, installBootloaderSchema } from "./schemas.js";
import { switchAndVerify } from "./switch.js";

export const rollbackOptionsSchema = z.object({
  hosts: hostSelectorSchema,
  generation: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("the generation to return to; default: the one before the current"),
  homeManagerUser: homeManagerUserSchema.optional(),
  confirmTimeoutSec: confirmTimeoutSchema,
  installBootloader: installBootloaderSchema,
});
export type RollbackOptions = z.infer<typeof rollbackOptionsSchema> & { flake?: string };

export const rollbackResultSchema = z.object({
  status: z.enum(["succeeded", "failed"]),
  summary: z.string(),
  hosts: z.array(
    hostResultSchema(
      z
        .enum(["switched", "reverted", "refused", "failed"])
        .describe(
          "switched: now on the target; reverted: the target failed its checks, host left as it was; refused: the request does not fit the host (no such generation, already on it), nothing was done",
        ),
      {
        homeManagerUser: z.string().optional().describe("the user whose home-manager generation this is"),
        generationBefore: z.number().optional(),
        generationAfter: z.number().optional(),
        targetGeneration: z.number().optional(),
        logs: z.record(z.string(), z.array(z.string())).optional(),
      },
    ),
  ),
  next: nextSchema,
});
export type RollbackResult = z.infer<typeof rollbackResultSchema>;
type HostRollback = RollbackResult["hosts"][number];

/** A rollback's outcome by the activation's: confirmed is now on the target; rolled back is as it was. */
const ROLLBACK_OUTCOME = { confirmed: "switched", "rolled-back": "reverted", failed: "failed" } as const;

/**
 * Returns hosts to an earlier generation (the previous one by default) the way deploy activates:
 * under magic rollback, with the same health checks, so a bad old generation is undone too.
 */
export const rollback = operation<RollbackOptions, RollbackResult>(async (engine, options, hooks) => {
  const fleet = await discoverFleet(engine, { flake: options.flake, signal: hooks.signal });
  const hosts = selectHosts(fleet, options.hosts);
  const id = newDeploymentId();
  const results = await mapLimit(hosts, engine.parallelism, async (host): Promise<HostRollback> => {
    const step = (message: string) => hooks.progress(`${host.name}: ${message}`);
    let lock: ReturnType<typeof acquireHostLock> | undefined;
    try {
      lock = acquireHostLock(host.name, id, engine.env);
      if (options.homeManagerUser !== undefined) {
        const home = await rollbackHome(engine, host, options.homeManagerUser, options.generation, {
          signal: hooks.signal,
          step,
        });
        step(home.outcome);
        return { host: host.name, homeManagerUser: options.homeManagerUser, ...home };
      }
      const confirmTimeoutSec = options.confirmTimeoutSec ?? DEFAULT_CONFIRM_TIMEOUT_SEC;
      // An undecided earlier activation would revert the host under this one: let it finish first.
      const earlier = await settleEarlierActivations(
        engine,
        host,
        earlierActivationBoundSec(confirmTimeoutSec),
        hooks.signal,
      );
      for (const note of earlier.notes) step(note);
      const status = await hostStatus(engine, host, hooks.signal);
      if (!status.reachable)
        throw new UserError(
          `${host.name} does not answer over ssh: ${status.reason}`,
          `check that ${host.ssh.destination} is up`,
        );
      const current = status.generations.find((g) => g.current);
      if (!current || !status.currentSystem)
        throw new UserError(`${host.name} has no current generation in ${host.profile}`);
      const target =
        options.generation !== undefined
          ? status.generations.find((g) => g.number === options.generation)
          : status.generations.filter((g) => g.number < current.number).at(-1);
      // A generation the host does not have is a wrong request, not a failure of the host.
      const refuse = (error: string): HostRollback => ({
        host: host.name,
        outcome: "refused",
        generationBefore: current.number,
        error,
      });
      if (!target?.path) {
        const known = status.generations.map((g) => g.number).join(", ");
        return refuse(
          `${options.generation !== undefined ? `${host.name} has no generation ${options.generation}` : `${host.name} has no generation before ${current.number}`}; its generations: ${known}`,
        );
      }
      if (target.number === current.number)
        return refuse(`${host.name} is already on generation ${target.number}`);
      step(`switching to generation ${target.number}`);
      const details: HostDetails = { packages: [], units: [], activationLog: [] };
      const switched = await switchAndVerify(
        engine,
        host,
        {
          newSystem: target.path,
          goal: "switch",
          previousSystem: status.currentSystem,
          previousGeneration: current.number,
          targetGeneration: target.number,
          confirmTimeoutSec,
          installBootloader: options.installBootloader,
          nonce: newNonce(id, host.name),
        },
        details,
        { signal: hooks.signal, onStep: step },
      );
      const outcome = ROLLBACK_OUTCOME[switched.outcome];
      step(outcome);
      return {
        host: host.name,
        outcome,
        generationBefore: current.number,
        generationAfter: switched.generationAfter,
        targetGeneration: target.number,
        error: switched.extra.error,
        logs: switched.extra.logs,
      };
    } catch (error) {
      return { host: host.name, outcome: "failed", error: describeError(error) };
    } finally {
      lock?.release();
    }
  });
  const ok = results.every((r) => r.outcome === "switched");
  engine.log.info({ rollback: id, hosts: results.map((r) => [r.host, r.outcome]) }, "rollback finished");
  return {
    status: ok ? "succeeded" : "failed",
    summary: results
      .map((r) =>
        r.outcome === "switched"
          ? `${r.host}: ${r.homeManagerUser ? `${r.homeManagerUser}'s home-manager ` : ""}generation ${r.generationBefore} → ${r.targetGeneration}`
          : `${r.host}: ${r.outcome}`,
      )
      .join("; "),
    hosts: results,
    next: ok
      ? options.homeManagerUser
        ? `${options.homeManagerUser}'s home is on the earlier home-manager generation; host_status lists them all`
        : "the hosts run the earlier generation; fix the configuration before deploying again"
      : "read the errors; hosts that did not switch are on the generation they had",
  };
});
