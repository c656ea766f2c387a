import { z } from "zod";
import { fleetListResultSchema, listFleet } from "../engine/fleet/overview.js";
import { defineTool } from "./define.js";

export const flakeInput = z
  .string()
  .min(1)
  .optional()
  .describe(
    "path of the flake directory; defaults to the server's flake (--flake, NIX_DEPLOY_FLAKE or its working directory)",
  );

export default defineTool({
  name: "fleet_list",
  title: "List the fleet",
  description:
    "Lists the hosts of the NixOS flake (nixosConfigurations plus nix-deploy.json) with their ssh target, tags, " +
    "and whether each answers over ssh with its current system. Start here to learn the host names.",
  input: {
    flake: flakeInput,
    probe: z.boolean().optional().describe("contact each host over ssh (default true); false only lists"),
  },
  output: fleetListResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  run: (engine, input, context) => listFleet(engine, { ...input, signal: context.signal }),
});
