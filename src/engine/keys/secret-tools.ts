import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../engine.js";
import type { Host } from "../fleet/hosts.js";
import { hostCommand } from "../host/scripts.js";

/** A preflight checklist entry (the shape preflight's checks have). */
export interface SecretCheck {
  check: string;
  status: "pass" | "warn" | "fail";
  detail: string;
  remedy?: string;
}

/** Flake inputs that decrypt secrets on the host at activation, with the host's ssh key. */
const SECRET_TOOLS = ["sops-nix", "agenix", "ragenix"];

/** The flake's direct inputs named like sops-nix or agenix, from flake.lock's root node. */
export function secretToolsOf(flake: string): string[] {
  try {
    const lock = JSON.parse(readFileSync(join(flake, "flake.lock"), "utf8")) as {
      root?: string;
      nodes?: Record<string, { inputs?: Record<string, unknown> }>;
    };
    const inputs = Object.keys(lock.nodes?.[lock.root ?? "root"]?.inputs ?? {});
    return SECRET_TOOLS.filter((tool) => inputs.includes(tool));
  } catch {
    return [];
  }
}

/** What preflight says about the flake: those secrets are the host's business, not an upload's. */
export function secretToolsChecks(tools: readonly string[]): SecretCheck[] {
  if (tools.length === 0) return [];
  return [
    {
      check: "secrets",
      status: "pass",
      detail: `the flake uses ${tools.join(" and ")}: those secrets are decrypted on each host at activation with its ssh host key and need no upload (the inventory's keys are for secrets kept outside the flake)`,
    },
  ];
}

/** Each host must have the ssh host key those tools decrypt with, or activation fails to decrypt. */
export async function hostKeyChecks(
  engine: Engine,
  host: Host,
  tools: readonly string[],
  signal?: AbortSignal,
): Promise<SecretCheck[]> {
  if (tools.length === 0) return [];
  const result = await engine.connect(host).run(hostCommand("ssh-host-key", "nix-deploy-ssh-host-key"), {
    timeoutMs: 20_000,
    signal,
  });
  if (result.exitCode !== 0) return []; // unreachable: the ssh check says so
  const key = result.stdout.trim();
  return [
    key
      ? { check: "host key", status: "pass", detail: `${key}, which ${tools.join(" and ")} decrypt with` }
      : {
          check: "host key",
          status: "fail",
          detail: `no /etc/ssh/ssh_host_ed25519_key or ssh_host_rsa_key: ${tools.join(" and ")} cannot decrypt its secrets at activation`,
          remedy: `enable services.openssh on ${host.name} (it makes the host key at boot), then encrypt its secrets to that key`,
        },
  ];
}
