import { z } from "zod";
import { operation } from "../hooks.js";
import { nextSchema } from "../schemas.js";
import { homeManagerProfileSchema, homeManagerProfiles } from "./home-manager.js";
import { discoverFleet, selectHost } from "./hosts.js";
import { hostStatus, probeHosts } from "./status.js";

/** The engine operations behind `fleet_list` and `host_status`; their schemas are the tools' contract. */

export const fleetHostSchema = z.object({
  name: z.string(),
  target: z.string().describe('ssh destination, user@address, or "local" for this machine'),
  port: z.number().optional(),
  tags: z.array(z.string()),
  inFlake: z.boolean().describe("the flake has nixosConfigurations.<name>"),
  reachable: z.boolean().optional().describe("ssh answered (absent when not probed)"),
  currentSystem: z.string().optional().describe("store path of /run/current-system"),
  generation: z.number().optional().describe("the generation the system profile points at"),
  reason: z.string().optional().describe("why the host did not answer"),
});

export const fleetListResultSchema = z.object({
  flake: z.string(),
  inventory: z.string().optional(),
  hosts: z.array(fleetHostSchema),
  summary: z.string(),
  warnings: z.array(z.string()),
});
export type FleetListResult = z.infer<typeof fleetListResultSchema>;

export const listFleet = operation<{ flake?: string; probe?: boolean }, FleetListResult>(
  async (engine, options, hooks) => {
    const fleet = await discoverFleet(engine, { flake: options.flake, signal: hooks.signal });
    const probe = options.probe ?? true;
    const probes = probe ? await probeHosts(engine, fleet.hosts, hooks.signal) : [];
    const hosts = fleet.hosts.map((host, i) => ({
      name: host.name,
      target: host.local ? "local" : host.ssh.destination,
      port: host.ssh.port,
      tags: host.tags,
      inFlake: host.inFlake,
      ...probes[i],
    }));
    const answering = hosts.filter((h) => h.reachable).length;
    const summary = probe
      ? `${hosts.length} hosts, ${answering} answering${
          answering < hosts.length
            ? `; not answering: ${hosts
                .filter((h) => !h.reachable)
                .map((h) => h.name)
                .join(", ")}`
            : ""
        }`
      : `${hosts.length} hosts (not probed)`;
    engine.log.info({ flake: fleet.flake, hosts: hosts.length, answering }, "fleet listed");
    return { flake: fleet.flake, inventory: fleet.inventoryPath, hosts, summary, warnings: fleet.warnings };
  },
);

export const hostStatusResultSchema = z.object({
  host: z.string(),
  target: z.string(),
  reachable: z.boolean(),
  reason: z.string().optional(),
  currentSystem: z.string().optional(),
  generations: z.array(
    z.object({ number: z.number(), date: z.string(), current: z.boolean(), path: z.string().optional() }),
  ),
  systemState: z.string().optional().describe("systemctl is-system-running"),
  failedUnits: z.array(
    z.object({
      unit: z.string(),
      load: z.string(),
      active: z.string(),
      sub: z.string(),
      description: z.string(),
    }),
  ),
  criticalServices: z.array(z.string()),
  homeManager: z
    .array(homeManagerProfileSchema)
    .describe("standalone home-manager profiles, each user's generations (rollback with homeManagerUser)"),
  nixVersion: z.string().optional(),
  summary: z.string(),
  next: nextSchema.describe("what to do next"),
});
export type HostStatusResult = z.infer<typeof hostStatusResultSchema>;

export const describeHost = operation<{ host: string; flake?: string }, HostStatusResult>(
  async (engine, options, hooks) => {
    const fleet = await discoverFleet(engine, { flake: options.flake, signal: hooks.signal });
    const host = selectHost(fleet, options.host);
    const [status, home] = await Promise.all([
      hostStatus(engine, host, hooks.signal),
      homeManagerProfiles(engine, host, hooks.signal),
    ]);
    const current = status.generations.find((g) => g.current);
    let summary: string;
    let next: string;
    if (!status.reachable) {
      summary = `${host.name} does not answer over ssh (${host.ssh.destination}): ${status.reason}`;
      next = `check that the host is up and that ssh works: ssh ${host.ssh.destination}`;
    } else if (status.failedUnits.length > 0) {
      summary = `${host.name} is ${status.systemState ?? "degraded"}: ${status.failedUnits.length} failed unit(s): ${status.failedUnits.map((u) => u.unit).join(", ")}`;
      next = `inspect the failed units (journalctl -u ${status.failedUnits[0]?.unit} -n 50) or roll back`;
    } else {
      summary = `${host.name} is ${status.systemState ?? "up"}${current ? ` on generation ${current.number}` : ""}`;
      next = "nothing to do; deploy when you have changes";
    }
    engine.log.info(
      { host: host.name, reachable: status.reachable, systemState: status.systemState },
      "host status",
    );
    return {
      host: host.name,
      target: host.local ? "local" : host.ssh.destination,
      ...status,
      criticalServices: host.criticalServices,
      homeManager: home.profiles,
      summary,
      next,
    };
  },
);
