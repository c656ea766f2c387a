import { listReports, loadReport, renderReportMarkdown } from "../engine/report/report.js";
import type { ResourceDefinition, ResourceTemplateDefinition } from "./define.js";

/**
 * Reports belong to a flake: the state directory holds every flake the user deployed from this
 * machine, but the listing, "latest" and resources/list show the served flake's. Other flakes'
 * deployments are listed only when asked for (nix-deploy://reports/all); a report by id is such an ask.
 */
const recent = (engine: Parameters<ResourceDefinition["read"]>[0]) =>
  listReports(engine.env, engine.flake).slice(0, 20);

export const reportList: ResourceDefinition = {
  name: "reports",
  uri: "nix-deploy://reports",
  title: "Deployment reports",
  description:
    "Past deployments of this flake, newest first: id, status, time, hosts, mode (JSON). Every flake's: nix-deploy://reports/all.",
  mimeType: "application/json",
  read: async (engine) => JSON.stringify(listReports(engine.env, engine.flake), null, 2),
};

export const allFlakesReportList: ResourceDefinition = {
  name: "reports-all",
  uri: "nix-deploy://reports/all",
  title: "Deployment reports of every flake",
  description:
    "Past deployments of every flake deployed from this machine, newest first, each with its flake (JSON).",
  mimeType: "application/json",
  read: async (engine) => JSON.stringify(listReports(engine.env), null, 2),
};

export const latestReport: ResourceDefinition = {
  name: "report-latest",
  uri: "nix-deploy://reports/latest",
  title: "Latest deployment report",
  description:
    "The report of this flake's newest deployment: status, generations, changes, services, checks with times, health (markdown).",
  mimeType: "text/markdown",
  read: async (engine) => renderReportMarkdown(loadReport("latest", engine.env, engine.flake)),
};

export const latestReportJson: ResourceDefinition = {
  name: "report-latest-json",
  uri: "nix-deploy://reports/latest/json",
  title: "Latest deployment report (JSON)",
  description: "This flake's newest deployment report as JSON.",
  mimeType: "application/json",
  read: async (engine) => JSON.stringify(loadReport("latest", engine.env, engine.flake), null, 2),
};

export const reportById: ResourceTemplateDefinition = {
  name: "report",
  uriTemplate: "nix-deploy://reports/{id}",
  title: "Deployment report",
  description: "One deployment's report (markdown).",
  mimeType: "text/markdown",
  list: async (engine) =>
    recent(engine).map((r) => ({
      uri: `nix-deploy://reports/${r.id}`,
      name: `report ${r.id} (${r.status})`,
    })),
  read: async (engine, { id }) => renderReportMarkdown(loadReport(String(id), engine.env)),
};

export const reportByIdJson: ResourceTemplateDefinition = {
  name: "report-json",
  uriTemplate: "nix-deploy://reports/{id}/json",
  title: "Deployment report (JSON)",
  description: "One deployment's report as JSON.",
  mimeType: "application/json",
  list: async (engine) =>
    recent(engine).map((r) => ({ uri: `nix-deploy://reports/${r.id}/json`, name: `report ${r.id} (JSON)` })),
  read: async (engine, { id }) => JSON.stringify(loadReport(String(id), engine.env), null, 2),
};
