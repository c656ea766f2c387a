import { z } from "zod";
import type { Engine } from "../engine/engine.js";
import { describeError } from "../engine/errors.js";
import { discoverFleet } from "../engine/fleet/hosts.js";
import { phasesFor } from "../engine/plan.js";
import { type ParsedRequest, parseRequest, REQUEST_FORMS } from "../engine/request.js";
import { completeHost, completeRequest } from "./complete.js";
import type { AnyPromptDefinition } from "./define.js";

/**
 * The `/nix-deploy` flows as instructions for the assistant: which tools in which order, what to
 * show, when to stop and ask. The phases come from the same table as the plan tool's.
 */

const GATE_ADVICE: Record<string, string> = {
  blocks: "if it fails, show what failed with its remedy and stop",
  warns: "show any warnings, then go on",
  asks: "stop here: show the findings and ask the user whether to go on",
  runs: "show its result briefly",
};

export async function flowText(request: string, engine: Engine): Promise<string> {
  let parsed: ParsedRequest;
  let hosts: string[] = [];
  try {
    const fleet = await discoverFleet(engine);
    hosts = fleet.hosts.map((h) => h.name);
    parsed = parseRequest(request, { hosts, tags: [...new Set(fleet.hosts.flatMap((h) => h.tags))] });
  } catch (error) {
    return [
      `The request "${request}" cannot be carried out as written: ${describeError(error)}`,
      "",
      `Valid hosts: ${hosts.join(", ") || "(call fleet_list)"}. Valid requests: ${REQUEST_FORMS.join("; ")}.`,
      "Ask the user which one they meant. Do not deploy anything until they answer.",
    ].join("\n");
  }
  const target = parsed.hosts.join(", ");
  const steps = [
    `1. Call plan with request "${parsed.text}". Show the user its summary: hosts, mode, phases. If it has proposals, show them and ask the user before going on.`,
    ...phasesFor(parsed).map(
      (p, i) =>
        `${i + 2}. ${p.tool ? `Call ${p.tool}${p.tool === "deploy" && parsed.action === "deploy" ? " with the plan's planId" : ` for ${target}`}` : "Pause"}: ${p.phase}; ${GATE_ADVICE[p.gate]}.`,
    ),
  ];
  const lines = [
    `Request: ${parsed.text} (${parsed.action}, ${parsed.mode} mode, hosts: ${target}${parsed.dryRun ? ", dry run" : ""})`,
    "",
    "Do these steps in order:",
    ...steps,
  ];
  if (parsed.action === "deploy") {
    lines.push(
      `${steps.length + 1}. Read the resource nix-deploy://reports/latest and show: status, total time, generation before → after per host, package changes, services restarted, checks with times, warnings, recommendations.`,
      "",
      "A host that rolled back is a failure: say so plainly, with the error and the journal lines from the result. Hosts reported unchanged needed nothing.",
    );
    if (parsed.mode === "emergency")
      lines.push(
        "Emergency mode skips validation; tell the user, and that magic rollback still protects the hosts.",
      );
    if (parsed.hosts.includes("all") || parsed.hosts.length > 1)
      lines.push("The deploy runs the hosts in parallel; report per host.");
  }
  if (parsed.action === "preview") lines.push("", "This is read-only: do not deploy or update anything.");
  if (["add-host", "onboard", "install"].includes(parsed.action))
    lines.push(
      `${steps.length + 1}. Read the resource nix-deploy://reports/onboarding/latest and show what was written, the checks and the backup.`,
      "",
      "Pass host_facts' facts on to add_host as they are (system, boot, gpu, the disk's /dev/disk/by-id name, the facter report); never guess a disk. " +
        "Ask which optional services and which home-manager user the host should have; each service is off unless the user names it. " +
        "Show add_host's diff and ask before calling it with dryRun: false. A rolled-back add_host changed nothing: show its error.",
    );
  return lines.join("\n");
}

const requestArgs = {
  request: z
    .string()
    .optional()
    .describe('e.g. "Deploy to p620", "Fast deploy to p620", "Smart update p620"'),
};
const hostArgs = { host: z.string().optional().describe("a host name, @tag, or all") };

export const nixDeployPrompt: AnyPromptDefinition = {
  name: "nix-deploy",
  title: "nix-deploy",
  description:
    "Deploy, preview or update NixOS hosts from one line: Deploy to p620, Fast deploy to p620, Deploy to all hosts, Smart update p620, ...",
  args: requestArgs,
  complete: { request: completeRequest },
  text: ({ request }, engine) => flowText(String(request ?? "").trim() || "Deploy to all hosts", engine),
};

/** One prompt per /nix-deploy mode, each taking just a host: `/deploy p620`. */
const modePrompt = (
  name: string,
  title: string,
  phrase: (host: string) => string,
  fallbackHost = "all",
): AnyPromptDefinition => ({
  name,
  title,
  description: `${phrase("HOST")}`,
  args: hostArgs,
  complete: { host: completeHost },
  text: ({ host }, engine) => flowText(phrase(String(host ?? "").trim() || fallbackHost), engine),
});

export const modePrompts: AnyPromptDefinition[] = [
  modePrompt("deploy", "Deploy", (h) => `Deploy to ${h}`),
  modePrompt("fast-deploy", "Fast-deploy", (h) => `Fast deploy to ${h}`),
  modePrompt("emergency-deploy", "Emergency-deploy", (h) => `Emergency deploy to ${h}`),
  modePrompt("preview-updates", "Preview-updates", (h) => `Preview updates for ${h}`),
  modePrompt("update-workflow", "Update-workflow", (h) => `Update workflow for ${h}`),
  modePrompt("smart-update", "Smart-update", (h) => `Smart update ${h}`),
  modePrompt("update-flake", "Update-flake", (h) => `Update flake ${h === "all" ? "" : `for ${h}`}`.trim()),
  modePrompt("onboard", "Onboard", (h) => `Onboard ${h}`, ""),
];
