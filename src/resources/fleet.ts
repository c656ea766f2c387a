import { listFleet } from "../engine/fleet/overview.js";
import type { ResourceDefinition } from "./define.js";

export const fleetResource: ResourceDefinition = {
  name: "fleet",
  uri: "nix-deploy://fleet",
  title: "Fleet",
  description:
    "The hosts of the flake, their ssh targets, tags, and the system and generation each runs now (JSON).",
  mimeType: "application/json",
  read: async (engine) => JSON.stringify(await listFleet(engine, {}), null, 2),
};
