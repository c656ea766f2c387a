import type { ResourceDefinition } from "./define.js";
import { fleetResource } from "./fleet.js";

/** Every resource the server offers; one file each in this folder. */
export const resources: ResourceDefinition[] = [fleetResource];
