import { readFileSync } from "node:fs";
import type { OnboardingRecord } from "../onboard/record.js";
import { packageFile } from "../package.js";

/** The report of an onboarding run, as markdown from templates/onboarding-report.md. */

const STATUS_LINE: Record<OnboardingRecord["status"], string> = {
  planned: "🔍 **Status: PLANNED** (dry run: nothing was written)",
  written: "✅ **Status: WRITTEN** (evaluated and audited)",
  "rolled-back": "↩️ **Status: ROLLED BACK** (every file restored from the backup)",
};

let template: string | undefined;

export function renderOnboardingMarkdown(record: OnboardingRecord): string {
  template ??= readFileSync(packageFile("templates/onboarding-report.md"), "utf8");
  const m = record.machine;
  const values: Record<string, string> = {
    host: record.host,
    status_line: STATUS_LINE[record.status],
    id: record.id,
    step: record.step,
    started: record.createdAt,
    flake: record.flake,
    machine: `${m.system}, ${m.boot.toUpperCase()}, GPU ${m.gpu}, disk \`${m.disk}\`${m.user ? `, user ${m.user}` : ""}, services: ${m.services.join(", ") || "none"}`,
    backup: record.backup ? `\`${record.backup}\` (restore takes it back)` : "none (nothing written)",
    files: record.files
      .map((f) => `- ${f.action === "create" ? "created" : "changed"} \`${f.path}\``)
      .join("\n"),
    checks: record.checks
      .map((c) => `- ${c.ok ? "✓" : "✗"} ${c.check}: ${c.detail.split("\n")[0]}`)
      .join("\n"),
    error: record.error ? `\n**What failed:**\n\n\`\`\`\n${record.error}\n\`\`\`\n` : "",
    notes: record.notes.length ? record.notes.map((n) => `- ${n}`).join("\n") : "- none",
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? "");
}
