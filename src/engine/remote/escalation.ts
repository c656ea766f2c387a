import { UserError } from "../errors.js";
import type { CommandResult } from "../process.js";

/**
 * Gaining root on a host. A host reached as a user other than root runs the steps that change the
 * system (the profile switch, switch-to-configuration, systemd-run, the supervisor's state in
 * /run/nix-deploy, the journal) through an escalation command, as colmena's privilege escalation
 * command and nixos-rebuild's `--sudo` do; read-only steps run as the login user.
 */

/** The programs an inventory may name as its escalation command. */
export const ESCALATION_PROGRAMS = ["sudo", "doas", "run0"] as const;

/** For a user other than root: never asks, so a missing NOPASSWD rule fails at once instead of hanging. */
export const DEFAULT_ESCALATION = ["sudo", "-n"] as const;

/** The command line that runs argv as root, and what goes first on its stdin. */
export interface Escalated {
  argv: string[];
  /** The password line for `sudo -S`, before the command's own input. */
  input?: string;
}

/**
 * argv run through the escalation command. With a password (the CLI's `--ask-sudo-password`), sudo
 * reads it from stdin without a prompt (`-S -p ''`), as nixos-rebuild-ng passes it: never on a
 * command line, where `ps` on the host would show it.
 */
export function escalate(
  argv: readonly string[],
  escalation: readonly string[],
  password: string | undefined,
  host: string,
): Escalated {
  if (escalation.length === 0) return { argv: [...argv] };
  if (password === undefined) return { argv: [...escalation, ...argv] };
  if (escalation[0] !== "sudo")
    throw new UserError(
      `${host} gains root with ${escalation[0]}, which cannot read a password from nix-deploy`,
      `allow the login user to run ${escalation[0]} without a password on ${host}, or use sudo there`,
    );
  const options = escalation.slice(1).filter((word) => word !== "-n" && word !== "--non-interactive");
  return { argv: ["sudo", "-S", "-p", "", ...options, ...argv], input: `${password}\n` };
}

/** What the escalation command says when it would not run the command, by program. */
const REFUSALS: ReadonlyArray<{ pattern: RegExp; kind: "password" | "wrong-password" | "denied" }> = [
  { pattern: /^sudo: (a password is required|a terminal is required|no tty present)/m, kind: "password" },
  { pattern: /^sudo: \d+ incorrect password attempts?|^Sorry, try again\./m, kind: "wrong-password" },
  {
    pattern: /is not in the sudoers file|is not allowed to (run sudo|execute)|may not run sudo/m,
    kind: "denied",
  },
  { pattern: /^doas: (a password is required|Authentication failed)/m, kind: "password" },
  { pattern: /^doas: Operation not permitted/m, kind: "denied" },
  { pattern: /Interactive authentication required|Authentication required/m, kind: "password" },
];

/**
 * The error for a step the escalation command refused to run, or undefined when it ran (whatever the
 * command's own exit status). `where` names the host and login user for the message.
 */
export function escalationRefusal(
  result: CommandResult,
  escalation: readonly string[],
  context: { host: string; user: string; withPassword: boolean },
): UserError | undefined {
  if (result.exitCode === 0 || escalation.length === 0) return undefined;
  const program = escalation[0] as string;
  const said = result.stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  if (result.exitCode === 127 && said.some((line) => line.includes(program) && /not found/.test(line)))
    return new UserError(
      `${context.host} has no ${program} for ${context.user} to gain root with`,
      `install ${program} on ${context.host}, choose another escalation command in the inventory (sudo, doas, run0), or log in as root`,
    );
  const refusal = REFUSALS.find((r) => r.pattern.test(result.stderr));
  if (!refusal) return undefined;
  const quoted = said.find((line) => refusal.pattern.test(line)) ?? said[0] ?? "";
  const rule =
    program === "sudo"
      ? `a NOPASSWD rule (NixOS: security.sudo.extraRules = [ { users = [ "${context.user}" ]; commands = [ { command = "ALL"; options = [ "NOPASSWD" ]; } ]; } ])`
      : program === "doas"
        ? `a nopass rule (NixOS: security.doas.extraRules = [ { users = [ "${context.user}" ]; noPass = true; } ])`
        : "a polkit rule that lets the user run run0 without asking";
  if (refusal.kind === "wrong-password")
    return new UserError(
      `${program} on ${context.host} did not accept the password for ${context.user} ("${quoted}")`,
      "run again with --ask-sudo-password and type the login user's password on that host",
    );
  if (refusal.kind === "denied")
    return new UserError(
      `${context.user} may not gain root with ${program} on ${context.host} ("${quoted}")`,
      `give ${context.user} ${rule} on ${context.host}, or log in as a user who has one`,
    );
  return new UserError(
    `${program} on ${context.host} wants a password for ${context.user}, and nix-deploy never waits at a prompt ("${quoted}")`,
    context.withPassword || program !== "sudo"
      ? `give ${context.user} ${rule} on ${context.host}`
      : `give ${context.user} ${rule} on ${context.host}, or deploy from a terminal with the CLI's --ask-sudo-password (the MCP tools never ask for a password)`,
  );
}
