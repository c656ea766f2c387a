import { z } from "zod";
import { fleetListResultSchema } from "../engine/fleet/overview.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "fleet_list",
  title: "List the fleet",
  description:
    "Lists the hosts of the NixOS flake (nixosConfigurations plus nix-deploy.json) with their ssh target, tags, " +
    "and whether each answers over ssh with its current system. Start here to learn the host names.",
  input: {
    ...baseInput,
    probe: z.boolean().optional().describe("contact each host over ssh (default true); false only lists"),
  },
  output: fleetListResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/fleet/overview.js")).listFleet,
});
