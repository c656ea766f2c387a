import { UserError } from "./errors.js";

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
 */

export type RequestAction = "deploy" | "preview" | "update" | "update-workflow" | "smart-update";
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
];

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
