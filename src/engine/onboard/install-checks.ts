import type { Engine } from "../engine.js";
import { describeError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { isInside, realPathOf } from "../trust.js";
import type { MachineFacts } from "./machine-facts.js";

export interface InstallCheck {
  check: string;
  status: "pass" | "warn" | "fail";
  detail: string;
}

/** nixos-anywhere's kexec image needs this much memory; an installer copying a closure too. */
export const MIN_INSTALL_MEMORY_BYTES = 1.5 * 1024 ** 3;

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/**
 * Everything install_host checks before it may touch a disk: the machine answers, its architecture
 * is the configuration's, it has the memory, the disk is there by its stable id and is the one the
 * configuration's disko layout formats, and the host key can be recorded inside the flake.
 */
export async function installChecks(
  engine: Engine,
  input: {
    flake: string;
    host: Host;
    disk: string;
    facts?: MachineFacts;
    unreachable?: string;
    signal?: AbortSignal;
  },
): Promise<InstallCheck[]> {
  const { flake, host, disk, facts } = input;
  const checks: InstallCheck[] = [];
  const add = (check: string, status: InstallCheck["status"], detail: string) =>
    checks.push({ check, status, detail });
  const config = `${flake}#nixosConfigurations.${host.name}.config`;

  if (!host.inFlake)
    add("configuration", "fail", `the flake has no nixosConfigurations.${host.name} to install`);
  const knownHosts = host.ssh.knownHostsFile;
  if (!knownHosts)
    add(
      "known_hosts",
      "fail",
      `no knownHostsFile for ${host.name} in the inventory; set it to a file in the flake (e.g. "known_hosts") so the new host key can be recorded where deploys read it`,
    );
  else if (!isInside(realPathOf(flake), realPathOf(knownHosts)))
    add(
      "known_hosts",
      "fail",
      `${knownHosts} is outside the flake; set ${host.name}'s knownHostsFile to a file in the flake`,
    );
  else add("known_hosts", "pass", `the new host key goes into ${knownHosts}`);

  if (!facts) {
    add("reachable", "fail", `the machine does not answer over ssh: ${input.unreachable}`);
    return checks;
  }
  add("reachable", "pass", `answers over ssh as ${facts.root ? "root" : "a non-root user"}`);
  add(
    "machine",
    facts.installer ? "pass" : facts.nixos && facts.currentSystem ? "warn" : "pass",
    facts.installer
      ? "a NixOS installer: no kexec needed"
      : facts.nixos && facts.currentSystem
        ? `a running NixOS (generation ${facts.systemGeneration ?? "?"}): installing replaces it, through kexec`
        : `${facts.os}: nixos-anywhere boots its installer through kexec first`,
  );

  if (host.inFlake) {
    try {
      const system = await engine.nix.evalJson<string>(`${config}.system.build.toplevel.system`, {
        signal: input.signal,
      });
      if (facts.system === "unknown")
        add("architecture", "warn", `the machine's architecture is unknown; the configuration is ${system}`);
      else if (facts.system !== system)
        add("architecture", "fail", `the machine is ${facts.system}, the configuration is for ${system}`);
      else add("architecture", "pass", system);
    } catch (error) {
      add(
        "architecture",
        "fail",
        `the configuration does not evaluate: ${describeError(error).split("\n")[0]}`,
      );
    }
  }

  if (facts.memoryBytes === "unknown") add("memory", "warn", "the machine's memory is unknown");
  else if (facts.memoryBytes < MIN_INSTALL_MEMORY_BYTES)
    add(
      "memory",
      "fail",
      `${gib(facts.memoryBytes)}; nixos-anywhere needs at least ${gib(MIN_INSTALL_MEMORY_BYTES)}`,
    );
  else add("memory", "pass", gib(facts.memoryBytes));

  const found = facts.disks.find((d) => d.id === disk);
  if (found)
    add(
      "disk",
      "pass",
      `/dev/disk/by-id/${disk} (${found.device}${found.sizeBytes === "unknown" ? "" : `, ${gib(found.sizeBytes)}`})`,
    );
  else
    add(
      "disk",
      "fail",
      `no /dev/disk/by-id/${disk} on the machine; its disks: ${facts.disks.map((d) => d.id).join(", ") || "(none found)"}`,
    );

  if (host.inFlake) checks.push(await diskoCheck(engine, config, disk, input.signal));
  return checks;
}

/** The disko layout must format exactly the named disk, by id: a kernel name (nvme0n1) can move. */
async function diskoCheck(
  engine: Engine,
  config: string,
  disk: string,
  signal?: AbortSignal,
): Promise<InstallCheck> {
  let devices: Record<string, string | null>;
  try {
    devices = await engine.nix.evalJson(`${config}.disko.devices.disk`, {
      apply: "disks: builtins.mapAttrs (name: d: d.device or null) disks",
      signal,
    });
  } catch {
    return {
      check: "disko layout",
      status: "fail",
      detail:
        "the configuration has no disko.devices.disk: the disko phase has nothing to format (add_host writes one)",
    };
  }
  const wanted = `/dev/disk/by-id/${disk}`;
  const paths = Object.values(devices);
  const unstable = paths.filter((p) => p && !p.startsWith("/dev/disk/by-id/"));
  if (unstable.length)
    return {
      check: "disko layout",
      status: "fail",
      detail: `the layout names ${unstable.join(", ")}: kernel names are not stable, use /dev/disk/by-id/...`,
    };
  if (!paths.includes(wanted))
    return {
      check: "disko layout",
      status: "fail",
      detail: `the layout formats ${paths.join(", ") || "no disk"}, not ${wanted}`,
    };
  // Only the disk the user types back may be erased.
  const others = paths.filter((p) => p !== wanted);
  if (others.length)
    return {
      check: "disko layout",
      status: "fail",
      detail: `the layout also formats ${others.join(", ")}; install one disk at a time, the one confirmed`,
    };
  return { check: "disko layout", status: "pass", detail: `formats ${wanted}` };
}
