import { UserError } from "./errors.js";
import { checkDisk, hostNameSchema } from "./onboard/input.js";

/**
 * The one-line requests of `/nix-deploy`, parsed by a small grammar rather than guessed at:
 *
 *   request  := [mode] "deploy" [target] [issue]
 *             | "update" ("system" | "flake") [target] [issue]
 *             | "preview" "updates" [target]
 *             | "update" "workflow" [target] [issue]
 *             | "smart" "update" [target] [issue]
 *             | "dry" "run" ["deploy"] [target]
 *   mode     := "standard" | "fast" | "emergency"
 *   target   := ["to" | "for" | "on"] hosts
 *   hosts    := "all" ["hosts"] | host ([","] ["and"] host)*     host := NAME | "@"TAG
 *   issue    := "for" "issue" "#"N
 *
 * and the onboarding of a machine, whose host is new (so not one of the known hosts):
 *
 *   request  := ("add" "host" | "onboard") NEW
 *             | "install" HOST "on" ["disk"] /dev/disk/by-id/ID
 */

export type RequestAction =
  | "deploy"
  | "preview"
  | "update"
  | "update-workflow"
  | "smart-update"
  | "add-host"
  | "onboard"
  | "install";
export type RequestMode = "standard" | "fast" | "emergency";

export interface ParsedRequest {
  action: RequestAction;
  mode: RequestMode;
  /** Host names, `@tag`s, or ["all"]. */
  hosts: string[];
  dryRun: boolean;
  issue?: number;
  /** The request as the user wrote it. */
  text: string;
  /** For "Install X on disk Y": the disk, by id. */
  disk?: string;
  /** An onboarded host that the flake does not have yet. */
  newHost?: boolean;
}

export const REQUEST_FORMS = [
  "Deploy to HOST",
  "Fast deploy to HOST",
  "Emergency deploy to HOST",
  "Deploy to all hosts",
  "Dry run deploy to HOST",
  "Update system",
  "Update flake",
  "Preview updates for HOST",
  "Update workflow for HOST",
  "Smart update HOST",
  "... for issue #N",
  "Add host NEW",
  "Onboard NEW",
  "Install HOST on disk /dev/disk/by-id/ID",
];

/**
 * The onboarding requests, read from the text as written: a disk id is case-sensitive, and the
 * host is new, so it is checked against the host name rule rather than the known hosts.
 */
function parseOnboarding(text: string, known: { hosts: string[] }): ParsedRequest | undefined {
  const trimmed = text.trim().replace(/^\/nix-deploy\s+/i, "");
  const add = /^(add\s+host|onboard)\s+(\S+)$/i.exec(trimmed);
  const install = /^install\s+(\S+)\s+on\s+(?:disk\s+)?(\S+)$/i.exec(trimmed);
  if (!add && !install) return undefined;
  const host = (add?.[2] ?? install?.[1]) as string;
  const checked = hostNameSchema.safeParse(host);
  if (!checked.success) throw new UserError(`"${host}" cannot name a host`, checked.error.issues[0]?.message);
  if (add && known.hosts.includes(host))
    throw new UserError(
      `${host} is a host of the fleet already`,
      `deploy to it ("Deploy to ${host}"), or install it on a fresh machine ("Install ${host} on disk /dev/disk/by-id/...")`,
    );
  if (install) checkDisk(install[2] as string);
  return {
    action: install ? "install" : /^add/i.test(trimmed) ? "add-host" : "onboard",
    mode: "standard",
    hosts: [host],
    dryRun: false,
    text: trimmed,
    newHost: !known.hosts.includes(host),
    ...(install ? { disk: install[2] } : {}),
  };
}

const MODES = new Set<string>(["standard", "fast", "emergency"]);

function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/,/g, " , ")
    .split(/\s+/)
    .filter((t) => t !== "" && t !== "please" && t !== "/nix-deploy");
}

/**
 * Parses a request against the known hosts and tags. An unknown host, mode or form is a UserError
 * that lists what is valid.
 */
export function parseRequest(text: string, known: { hosts: string[]; tags: string[] }): ParsedRequest {
  const onboarding = parseOnboarding(text, known);
  if (onboarding) return onboarding;
  const tokens = tokenize(text);
  let i = 0;
  const peek = (offset = 0) => tokens[i + offset];
  const take = (word: string) => {
    if (peek() === word) {
      i++;
      return true;
    }
    return false;
  };
  const unknownForm = () =>
    new UserError(`cannot read the request "${text.trim()}"`, `write one of: ${REQUEST_FORMS.join("; ")}`);

  let mode: RequestMode = "standard";
  let action: RequestAction;
  let dryRun = false;
  const first = peek();
  if (first && MODES.has(first)) {
    mode = first as RequestMode;
    i++;
  } else if (first && peek(1) === "deploy" && !MODES.has(first)) {
    throw new UserError(`unknown mode "${first}"`, "modes are standard, fast and emergency");
  }
  if (take("dry")) {
    if (!take("run")) throw unknownForm();
    dryRun = true;
    take("deploy");
    action = "deploy";
  } else if (take("deploy")) {
    action = "deploy";
  } else if (take("preview")) {
    if (!take("updates") && !take("update")) throw unknownForm();
    action = "preview";
  } else if (take("smart")) {
    if (!take("update")) throw unknownForm();
    action = "smart-update";
  } else if (take("update")) {
    if (take("workflow")) action = "update-workflow";
    else if (take("system") || take("flake")) action = "update";
    else action = "update";
  } else {
    throw unknownForm();
  }

  // Target hosts, up to "for issue #N".
  const hosts: string[] = [];
  let issue: number | undefined;
  while (i < tokens.length) {
    const token = peek() as string;
    if (token === "for" && peek(1) === "issue") {
      i += 2;
      const number = /^#?(\d+)$/.exec(peek() ?? "");
      if (!number) throw new UserError(`"for issue" needs a number, like "for issue #123"`);
      issue = Number(number[1]);
      i++;
      continue;
    }
    if (["to", "for", "on", "and", ",", "host", "hosts", "the"].includes(token)) {
      i++;
      continue;
    }
    if (token === "all" || token === "*") {
      hosts.push("all");
      i++;
      continue;
    }
    if (token.startsWith("@")) {
      const tag = token.slice(1);
      const match = known.tags.find((t) => t.toLowerCase() === tag);
      if (!match)
        throw new UserError(
          `no host has the tag @${tag}`,
          `tags: ${known.tags.map((t) => `@${t}`).join(", ") || "(none)"}`,
        );
      hosts.push(`@${match}`);
      i++;
      continue;
    }
    const host = known.hosts.find((h) => h.toLowerCase() === token);
    if (!host) {
      throw new UserError(`unknown host "${token}"`, `hosts: ${known.hosts.join(", ")}; or say "all hosts"`);
    }
    hosts.push(host);
    i++;
  }
  if (hosts.length === 0) {
    // "Update system" and "Update flake" concern the whole fleet; a deploy must name its hosts.
    if (action === "deploy")
      throw new UserError(
        `which host? "${text.trim()}" names none`,
        `hosts: ${known.hosts.join(", ")}; or say "all hosts"`,
      );
    hosts.push("all");
  }
  return {
    action,
    mode,
    hosts: hosts.includes("all") ? ["all"] : [...new Set(hosts)],
    dryRun,
    issue,
    text: text.trim(),
  };
}
