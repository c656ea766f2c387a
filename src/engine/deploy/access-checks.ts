import { readFileSync } from "node:fs";
import type { Engine } from "../engine.js";
import { describeError, UserError } from "../errors.js";
import type { Host } from "../fleet/hosts.js";
import { checkPrivateFile } from "../trust.js";
import { parseNixSettings } from "./cache.js";
import { untrustedRemedy } from "./copy.js";

/** A preflight checklist entry (see preflight.ts). */
export interface AccessCheck {
  check: string;
  status: "pass" | "warn" | "fail";
  detail: string;
  remedy?: string;
}

/**
 * What a login user other than root needs before a deployment: root through the escalation command
 * without a prompt, and a copy the host's nix-daemon accepts (a trusted user, or signatures by a key
 * the host trusts). Checked as the deployment would do it, on the host; root needs neither.
 */
export async function accessChecks(engine: Engine, host: Host, signal?: AbortSignal): Promise<AccessCheck[]> {
  if (host.sudo.length === 0) return [];
  const checks: AccessCheck[] = [await escalationCheck(engine, host, signal)];
  if (!host.local) checks.push(await copyTrustCheck(engine, host, signal));
  return checks;
}

async function escalationCheck(engine: Engine, host: Host, signal?: AbortSignal): Promise<AccessCheck> {
  const how = host.sudo.join(" ");
  try {
    const result = await engine.connect(host).run(["true"], { root: true, timeoutMs: 20_000, signal });
    if (result.exitCode === 0)
      return { check: "root", status: "pass", detail: `${host.user} gains root with ${how}` };
    return {
      check: "root",
      status: "fail",
      detail: `${how} true exited with ${result.exitCode}: ${result.stderr.trim().split("\n")[0] ?? ""}`,
      remedy: `check ${host.sudo[0]} for ${host.user} on ${host.name}`,
    };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { check: "root", status: "fail", detail: error.message, remedy: error.remedy };
  }
}

/** The host's Nix settings as its login user sees them: `nix show-config` (before 2.20), else `nix config show`. */
async function hostNixSettings(engine: Engine, host: Host, signal?: AbortSignal) {
  const connection = engine.connect(host);
  const base = ["nix", "--extra-experimental-features", "nix-command"];
  let result = await connection.run([...base, "show-config"], { timeoutMs: 20_000, signal });
  if (result.exitCode !== 0)
    result = await connection.run([...base, "config", "show"], { timeoutMs: 20_000, signal });
  if (result.exitCode !== 0) return undefined;
  return parseNixSettings(result.stdout);
}

async function copyTrustCheck(engine: Engine, host: Host, signal?: AbortSignal): Promise<AccessCheck> {
  const settings = await hostNixSettings(engine, host, signal);
  if (!settings)
    return {
      check: "copy trust",
      status: "warn",
      detail: `could not read the Nix settings of ${host.name} as ${host.user}`,
      remedy: `make sure ${host.user} can run nix on ${host.name}`,
    };
  const trustedUsers = settings.get("trusted-users") ?? [];
  const groups = trustedUsers.some((u) => u.startsWith("@"))
    ? (await engine.connect(host).run(["id", "-Gn"], { timeoutMs: 20_000, signal })).stdout
        .trim()
        .split(/\s+/)
    : [];
  const trusted = trustedUsers.some(
    (entry) =>
      entry === "*" || entry === host.user || (entry.startsWith("@") && groups.includes(entry.slice(1))),
  );
  if (trusted)
    return {
      check: "copy trust",
      status: "pass",
      detail: `${host.user} is a trusted user of the host's nix-daemon`,
    };
  if (!host.signingKey)
    return {
      check: "copy trust",
      status: "fail",
      detail: `${host.user} is not in the host's trusted-users (${trustedUsers.join(" ") || "none"}), so its nix-daemon refuses unsigned paths copied by ${host.user}`,
      remedy: untrustedRemedy(host.name, host.user),
    };
  let publicKey: string;
  try {
    publicKey = publicKeyOf(host.signingKey);
  } catch (error) {
    return { check: "copy trust", status: "fail", detail: describeError(error) };
  }
  const name = publicKey.slice(0, publicKey.indexOf(":"));
  if ((settings.get("trusted-public-keys") ?? []).includes(publicKey))
    return {
      check: "copy trust",
      status: "pass",
      detail: `${host.user} is not a trusted user, but the closure is signed with ${name}, which the host trusts`,
    };
  return {
    check: "copy trust",
    status: "fail",
    detail: `the closure would be signed with ${name}, which ${host.name} does not trust, and ${host.user} is not a trusted user`,
    remedy: `on ${host.name}, add ${publicKey} to nix.settings.trusted-public-keys (or add ${host.user} to nix.settings.trusted-users)`,
  };
}

/**
 * The public key of a Nix secret key file (`name:base64`, an ed25519 secret key whose last 32 bytes
 * are its public key), as `nix key convert-secret-to-public` prints it. The secret stays here.
 */
export function publicKeyOf(secretKeyFile: string): string {
  checkPrivateFile(secretKeyFile, "the signing key");
  const text = readFileSync(secretKeyFile, "utf8").trim();
  const colon = text.indexOf(":");
  const secret = Buffer.from(text.slice(colon + 1), "base64");
  if (colon <= 0 || secret.length !== 64)
    throw new UserError(
      `the signing key ${secretKeyFile} is not a Nix secret key (name:base64 of 64 bytes)`,
      "make one with nix key generate-secret --key-name NAME (or nix-store --generate-binary-cache-key)",
    );
  return `${text.slice(0, colon)}:${secret.subarray(32).toString("base64")}`;
}
