import { z } from "zod";
import type { Engine } from "../engine.js";
import { hostCommand } from "../host/scripts.js";
import { runCommand } from "../process.js";
import { connectionFailureReason } from "../remote/ssh.js";
import type { Host } from "./hosts.js";

/**
 * home-manager's standalone profiles on a host: each user's generations beside the system's. A
 * NixOS-module home-manager has no profile of its own (it is part of the system generation), so only
 * standalone installs appear here.
 */
export const homeManagerProfileSchema = z.object({
  user: z.string(),
  profile: z.string().describe("the profile's path on the host"),
  generations: z.array(
    z.object({
      number: z.number(),
      date: z.string().describe("host-local time of the switch"),
      current: z.boolean(),
      path: z.string().describe("the generation's store path"),
    }),
  ),
});
export type HomeManagerProfile = z.infer<typeof homeManagerProfileSchema>;

/** Reads home-generations.sh's lines: `profile` lines name the current link, `generation` lines list. */
export function parseHomeGenerations(stdout: string): HomeManagerProfile[] {
  const profiles = new Map<string, HomeManagerProfile & { currentLink?: number }>();
  const profileOf = (user: string, profile: string) => {
    const key = `${user}\t${profile}`;
    let entry = profiles.get(key);
    if (!entry) {
      entry = { user, profile, generations: [] };
      profiles.set(key, entry);
    }
    return entry;
  };
  for (const line of stdout.split("\n")) {
    const [kind, user, profile, ...rest] = line.split("\t");
    if (!user || !profile) continue;
    if (kind === "profile") {
      const link = /-(\d+)-link$/.exec(rest[0] ?? "")?.[1];
      profileOf(user, profile).currentLink = link === undefined ? undefined : Number(link);
    } else if (kind === "generation" && rest.length === 3) {
      const [number, date, path] = rest as [string, string, string];
      if (!/^\d+$/.test(number)) continue;
      profileOf(user, profile).generations.push({ number: Number(number), date, current: false, path });
    }
  }
  return [...profiles.values()].map(({ currentLink, ...entry }) => ({
    ...entry,
    generations: entry.generations
      .sort((a, b) => a.number - b.number)
      .map((g) => ({ ...g, current: g.number === currentLink })),
  }));
}

/** The home-manager profiles of a host (over ssh), or of this machine when `host` is undefined. */
export async function homeManagerProfiles(
  engine: Engine,
  host: Host | undefined,
  signal?: AbortSignal,
): Promise<{ reachable: boolean; reason?: string; profiles: HomeManagerProfile[] }> {
  const argv = hostCommand("home-generations", "nix-deploy-home-generations");
  if (!host) {
    const local = await runCommand(argv[0] as string, argv.slice(1), { timeoutMs: 20_000, signal });
    return { reachable: true, profiles: parseHomeGenerations(local.stdout) };
  }
  const result = await engine.connect(host).run(argv, { timeoutMs: 20_000, signal });
  if (result.connectionFailed)
    return { reachable: false, reason: connectionFailureReason(result), profiles: [] };
  return { reachable: true, profiles: parseHomeGenerations(result.stdout) };
}
