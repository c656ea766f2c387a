import type { Engine } from "../engine/engine.js";
import { discoverFleet } from "../engine/fleet/hosts.js";
import { REQUEST_FORMS } from "../engine/request.js";

/**
 * Completions for the prompts' arguments (MCP `completion/complete`): host names, `@tags` and `all`
 * from the served flake, and for `/nix-deploy` whole requests with their mode. A client asks at
 * every keystroke, while finding the hosts costs a Nix evaluation, so the flake's targets are kept
 * for a short while; a flake that does not evaluate completes nothing rather than failing.
 */

const TARGETS_KEPT_MS = 30_000;
const targetsByEngine = new WeakMap<Engine, { at: number; targets: Promise<string[]> }>();

/** `all`, the hosts, then `@tag` for each tag, as a request or a prompt's host argument names them. */
export function fleetTargets(engine: Engine): Promise<string[]> {
  const kept = targetsByEngine.get(engine);
  if (kept && Date.now() - kept.at < TARGETS_KEPT_MS) return kept.targets;
  const targets = discoverFleet(engine)
    .then((fleet) => [
      "all",
      ...fleet.hosts.map((host) => host.name),
      ...[...new Set(fleet.hosts.flatMap((host) => host.tags))].sort().map((tag) => `@${tag}`),
    ])
    .catch((error: unknown) => {
      engine.log.debug({ err: error }, "no completions: the fleet could not be read");
      return [];
    });
  targetsByEngine.set(engine, { at: Date.now(), targets });
  return targets;
}

const startsWith = (candidate: string, typed: string) =>
  candidate.toLowerCase().startsWith(typed.toLowerCase());

/** A prompt's host argument: the targets that start with what was typed. */
export async function completeHost(value: string, engine: Engine): Promise<string[]> {
  return (await fleetTargets(engine)).filter((target) => startsWith(target, value.trim()));
}

/** "Deploy to ", "Fast deploy to ", ...: the forms of a request that end in hosts. */
const LEADS = REQUEST_FORMS.filter((form) => form.endsWith(" HOST")).map((form) =>
  form.slice(0, -"HOST".length),
);
/** "Deploy to all hosts", "Update system", "Update flake": the forms that are whole already. */
const WHOLE = REQUEST_FORMS.filter((form) => !form.includes("HOST") && !form.startsWith("..."));

/**
 * `/nix-deploy`'s request. Before its hosts are reached, the forms (with their modes) for each
 * target: "Fa" gives "Fast deploy to p620", ... After a form's lead ("Deploy to p620, p5"), the
 * last host being typed, among the targets not named yet.
 */
export async function completeRequest(value: string, engine: Engine): Promise<string[]> {
  const typed = value.trimStart();
  const targets = await fleetTargets(engine);
  const lead = LEADS.filter((l) => startsWith(typed, l)).sort((a, b) => b.length - a.length)[0];
  if (lead) {
    const rest = typed.slice(lead.length);
    const cut = Math.max(rest.lastIndexOf(" "), rest.lastIndexOf(","));
    const named = new Set(
      rest
        .slice(0, cut + 1)
        .toLowerCase()
        .split(/[\s,]+/),
    );
    const partial = rest.slice(cut + 1);
    return targets
      .filter((target) => startsWith(target, partial) && !named.has(target.toLowerCase()))
      .map((target) => typed.slice(0, lead.length + cut + 1) + target);
  }
  return [...LEADS.flatMap((l) => targets.map((target) => l + target)), ...WHOLE].filter((request) =>
    startsWith(request, typed),
  );
}
