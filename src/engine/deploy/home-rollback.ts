import { z } from "zod";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { homeManagerProfiles } from "../fleet/home-manager.js";
import type { Host } from "../fleet/hosts.js";
import { hostCommand } from "../host/scripts.js";

/** A login name as useradd takes it: it travels to the host as one quoted argument all the same. */
export const homeManagerUserSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "a user name: a-z, 0-9, '_', '-'")
  .describe("this user's home-manager generation instead");

const ACTIVATE_TIMEOUT_MS = 300_000;

export interface HomeRollback {
  outcome: "switched" | "refused" | "failed";
  generationBefore?: number;
  generationAfter?: number;
  targetGeneration?: number;
  error?: string;
}

/**
 * Returns a user's home-manager to an earlier generation (the previous one by default), the way
 * home-manager's own rollback does: the older generation's `activate` run as the user, which makes
 * it the profile's newest generation. The system is not touched; there is no magic rollback, as a
 * home activation cannot cut the deployer off.
 */
export async function rollbackHome(
  engine: Engine,
  host: Host,
  user: string,
  generation: number | undefined,
  hooks: { signal?: AbortSignal; step: (message: string) => void },
): Promise<HomeRollback> {
  const before = await homeManagerProfiles(engine, host, hooks.signal);
  if (!before.reachable)
    throw new UserError(
      `${host.name} does not answer over ssh: ${before.reason}`,
      `check that ${host.ssh.destination} is up`,
    );
  // A migrated user can have both locations; the one whose profile points somewhere is in use.
  const profiles = before.profiles.filter((p) => p.user === user);
  const profile = profiles.find((p) => p.generations.some((g) => g.current)) ?? profiles[0];
  if (!profile) {
    const users = [...new Set(before.profiles.map((p) => p.user))];
    return {
      outcome: "refused",
      error: `${user} has no standalone home-manager profile on ${host.name}; users with one: ${users.join(", ") || "(none)"}`,
    };
  }
  const current = profile.generations.find((g) => g.current);
  const target =
    generation !== undefined
      ? profile.generations.find((g) => g.number === generation)
      : profile.generations.filter((g) => g.number < (current?.number ?? 0)).at(-1);
  const known = profile.generations.map((g) => g.number).join(", ");
  if (!target)
    return {
      outcome: "refused",
      generationBefore: current?.number,
      error: `${generation !== undefined ? `${user} has no home-manager generation ${generation}` : `${user} has no home-manager generation before ${current?.number}`} on ${host.name}; its generations: ${known}`,
    };
  if (target.number === current?.number || target.path === profile.generations.find((g) => g.current)?.path)
    return {
      outcome: "refused",
      generationBefore: current?.number,
      error: `${user} is already on home-manager generation ${target.number} (or the same configuration)`,
    };
  hooks.step(`activating ${user}'s home-manager generation ${target.number}`);
  // As root, the script becomes the user; a login user other than root gains root first.
  const result = await engine
    .connect(host)
    .run(hostCommand("home-manager-activate", "nix-deploy-home-activate", [user, target.path]), {
      root: true,
      timeoutMs: ACTIVATE_TIMEOUT_MS,
      signal: hooks.signal,
    });
  const after = await homeManagerProfiles(engine, host, hooks.signal);
  const now = after.profiles.find((p) => p.profile === profile.profile)?.generations.find((g) => g.current);
  const base = {
    generationBefore: current?.number,
    generationAfter: now?.number,
    targetGeneration: target.number,
  };
  if (result.exitCode !== 0 || now?.path !== target.path) {
    const output = `${result.stderr}\n${result.stdout}`.trim().split("\n").slice(-8).join("\n");
    return {
      outcome: "failed",
      ...base,
      error: `the activation of home-manager generation ${target.number} for ${user} ${result.exitCode !== 0 ? `exited with ${result.exitCode}` : "did not make it current"}${output ? `:\n${output}` : ""}`,
    };
  }
  return { outcome: "switched", ...base };
}
