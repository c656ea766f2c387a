import { listOnboarding, loadOnboarding } from "../engine/onboard/record.js";
import { renderOnboardingMarkdown } from "../engine/report/onboarding.js";
import type { ResourceDefinition, ResourceTemplateDefinition } from "./define.js";

/** Onboarding runs (add_host) of the served flake, as deployments have theirs in reports.ts. */
export const onboardingList: ResourceDefinition = {
  name: "onboarding-reports",
  uri: "nix-deploy://reports/onboarding",
  title: "Onboarding reports",
  description: "add_host runs of this flake, newest first: id, host, status, files, backup (JSON).",
  mimeType: "application/json",
  read: async (engine) =>
    JSON.stringify(
      listOnboarding(engine.env, engine.flake).map((r) => ({
        id: r.id,
        host: r.host,
        status: r.status,
        createdAt: r.createdAt,
        files: r.files.length,
        backup: r.backup,
      })),
      null,
      2,
    ),
};

export const latestOnboarding: ResourceDefinition = {
  name: "onboarding-report-latest",
  uri: "nix-deploy://reports/onboarding/latest",
  title: "Latest onboarding report",
  description:
    "This flake's newest add_host run: the machine's facts, files written, checks (parse, lint, security, evaluation, audit), backup (markdown).",
  mimeType: "text/markdown",
  read: async (engine) => renderOnboardingMarkdown(loadOnboarding(engine.env, "latest", engine.flake)),
};

export const onboardingById: ResourceTemplateDefinition = {
  name: "onboarding-report",
  uriTemplate: "nix-deploy://reports/onboarding/{id}",
  title: "Onboarding report",
  description: "One add_host run's report (markdown).",
  mimeType: "text/markdown",
  list: async (engine) =>
    listOnboarding(engine.env, engine.flake)
      .slice(0, 20)
      .map((r) => ({
        uri: `nix-deploy://reports/onboarding/${r.id}`,
        name: `onboarding ${r.host} (${r.status})`,
      })),
  read: async (engine, { id }) =>
    renderOnboardingMarkdown(loadOnboarding(engine.env, String(id), engine.flake)),
};
