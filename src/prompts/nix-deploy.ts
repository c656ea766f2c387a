import { z } from "zod";
import type { PromptDefinition } from "./define.js";

const args = {
  request: z.string().optional().describe('what to do, e.g. "status of p620" or "list hosts"'),
};

/**
 * The `/nix-deploy` entry point. It names only tools that exist today: the fleet view and host status.
 */
export const nixDeployPrompt: PromptDefinition<typeof args> = {
  name: "nix-deploy",
  title: "nix-deploy",
  description:
    "Work with the NixOS fleet of this flake: which hosts exist, whether they answer, what they run.",
  args,
  text: ({ request }) =>
    [
      `Request: ${request?.trim() || "show the fleet"}`,
      "",
      "Use the nix-deploy tools:",
      "1. Call fleet_list to learn the host names, their ssh targets and which hosts answer.",
      "2. For a host the request names, call host_status with that host to see its current system,",
      "   its generations and any failed units.",
      "Tell the user, per host: reachable or not (with the reason), the current generation, failed units.",
      "If the request names a host that fleet_list does not list, say so and show the valid host names.",
    ].join("\n"),
};
