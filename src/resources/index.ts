import type { ResourceDefinition, ResourceTemplateDefinition } from "./define.js";
import { fleetResource } from "./fleet.js";
import { latestOnboarding, onboardingById, onboardingList } from "./onboarding.js";
import {
  allFlakesReportList,
  latestReport,
  latestReportJson,
  reportById,
  reportByIdJson,
  reportList,
} from "./reports.js";

/** Every resource the server offers; one file per family in this folder. */
export const resources: Array<ResourceDefinition | ResourceTemplateDefinition> = [
  fleetResource,
  reportList,
  allFlakesReportList,
  latestReport,
  latestReportJson,
  reportById,
  reportByIdJson,
  onboardingList,
  latestOnboarding,
  onboardingById,
];
