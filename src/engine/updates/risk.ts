import { z } from "zod";

/**
 * One verdict for an update from everything checked before it: the nixpkgs issue check, and when
 * they ran, the preview, the configuration scan and the test build. Pure: the same inputs give the
 * same verdict, so the smart update and the tools agree, and tests need no GitHub.
 */

export type Verdict = "proceed" | "confirm" | "block";

/** The parts of the issue check the verdict reads. */
export interface IssueCheckSummary {
  status: "ok" | "degraded" | "unavailable";
  reason?: string;
  matches: Array<{
    number: number;
    title: string;
    package: string;
    severity: "critical" | "high" | "medium";
    fixed?: string;
  }>;
}

/** What the preview found; `error` when it could not tell. */
export interface PreviewSummary {
  changedPackages: number;
  hosts?: number;
  error?: string;
}

/** The syntax check and anti-pattern/security scan: errors stop a deploy, warnings do not. */
export interface ScanSummary {
  errors: number;
  warnings: number;
  firstError?: string;
}

/** The test build of the hosts with the new lock. */
export interface BuildSummary {
  ok: boolean;
  failedHosts?: string[];
  error?: string;
}

/** Where the locked nixpkgs comes from, for a pin suggestion that can be pasted as is. */
export interface PinTarget {
  input: string;
  owner: string;
  repo: string;
  /** The revision locked now; without it the suggestion says where to find it. */
  rev?: string;
}

export interface RiskInputs {
  issues: IssueCheckSummary;
  preview?: PreviewSummary;
  scan?: ScanSummary;
  build?: BuildSummary;
  pin?: PinTarget;
}

export const riskSuggestionSchema = z.object({
  title: z.string(),
  file: z.string().describe("where the text goes"),
  nix: z.string().describe("the Nix to write"),
});

export const riskAssessmentSchema = z.object({
  verdict: z
    .enum(["proceed", "confirm", "block"])
    .describe("proceed: nothing known against it; confirm: ask the user first; block: do not update"),
  reasons: z.array(z.string()).describe("what decided the verdict, worst first"),
  suggestions: z
    .array(riskSuggestionSchema)
    .describe("how to stay safe when blocked: pin the input or hold packages"),
});
export type RiskAssessment = z.infer<typeof riskAssessmentSchema>;

const RANK: Record<Verdict, number> = { proceed: 0, confirm: 1, block: 2 };

/** `systemd` as is; a name that is no Nix identifier (`python3.12-requests`) quoted. */
function nixAttr(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) ? name : JSON.stringify(name);
}

/** The two ways out of a critical issue, as text to paste: keep the whole input, or only the packages. */
export function pinSuggestions(
  packages: string[],
  pin: PinTarget = { input: "nixpkgs", owner: "NixOS", repo: "nixpkgs" },
) {
  const rev = pin.rev ?? "<rev>";
  const where = pin.rev ? "" : ` (the rev locked now: flake.lock, nodes.${pin.input}.locked.rev)`;
  const url = `github:${pin.owner}/${pin.repo}/${rev}`;
  const held = packages.map(
    (name) =>
      `        ${nixAttr(name)} = nixpkgs-pinned.legacyPackages.\${prev.stdenv.hostPlatform.system}.${nixAttr(name)};`,
  );
  return [
    {
      title: `Stay on the current ${pin.input}: pin it to the locked revision${where}`,
      file: "flake.nix",
      nix: `inputs.${pin.input}.url = "${url}";`,
    },
    {
      title: `Take the update but hold ${packages.join(", ")} at the locked revision${where}`,
      file: "flake.nix",
      nix: [
        `inputs.nixpkgs-pinned.url = "${url}";`,
        "",
        "# add nixpkgs-pinned to the arguments of outputs: outputs = { self, nixpkgs, nixpkgs-pinned, ... }:",
        "# and this module to each host's modules list in nixpkgs.lib.nixosSystem:",
        "{",
        "  nixpkgs.overlays = [",
        "    (final: prev: {",
        ...held,
        "    })",
        "  ];",
        "}",
      ].join("\n"),
    },
  ];
}

export function assessRisk(inputs: RiskInputs): RiskAssessment {
  const found: Array<{ verdict: Verdict; reason: string }> = [];
  const open = inputs.issues.matches.filter((m) => !m.fixed);
  const critical = open.filter((m) => m.severity === "critical");
  for (const m of critical)
    found.push({ verdict: "block", reason: `critical: #${m.number} ${m.title} (${m.package})` });
  if (inputs.build && !inputs.build.ok) {
    const hosts = inputs.build.failedHosts?.length ? ` for ${inputs.build.failedHosts.join(", ")}` : "";
    found.push({
      verdict: "block",
      reason: `the new lock does not build${hosts}${inputs.build.error ? `: ${inputs.build.error}` : ""}`,
    });
  }
  if (inputs.scan && inputs.scan.errors > 0) {
    found.push({
      verdict: "block",
      reason: `the configuration check found ${inputs.scan.errors} error(s)${inputs.scan.firstError ? `: ${inputs.scan.firstError}` : ""}`,
    });
  }
  if (inputs.issues.status !== "ok") {
    // Not knowing is not the same as knowing nothing is wrong: an unchecked update needs a person's yes.
    found.push({
      verdict: "confirm",
      reason: `the nixpkgs issue check is ${inputs.issues.status}${inputs.issues.reason ? ` (${inputs.issues.reason})` : ""}, so known issues are unknown`,
    });
  }
  for (const m of open.filter((m) => m.severity !== "critical")) {
    found.push({ verdict: "confirm", reason: `${m.severity}: #${m.number} ${m.title} (${m.package})` });
  }
  if (inputs.preview?.error) {
    found.push({
      verdict: "confirm",
      reason: `the preview could not tell what changes: ${inputs.preview.error}`,
    });
  }
  found.sort((a, b) => RANK[b.verdict] - RANK[a.verdict]);
  const verdict = found[0]?.verdict ?? "proceed";
  const heldPackages = [...new Set(critical.map((m) => m.package))];
  return {
    verdict,
    reasons: found.length > 0 ? found.map((f) => f.reason) : ["no known issue, failed check or failed build"],
    suggestions: heldPackages.length > 0 ? pinSuggestions(heldPackages, inputs.pin) : [],
  };
}

/** What to do next, in one sentence for the assistant. */
export function nextStepFor(assessment: RiskAssessment): string {
  switch (assessment.verdict) {
    case "proceed":
      return "Nothing known stands against the update; it can go ahead.";
    case "confirm":
      return `Ask the user before updating, showing: ${assessment.reasons.slice(0, 3).join("; ")}.`;
    case "block":
      return (
        "Do not update. Tell the user why, and offer the suggestions: pin the nixpkgs input to the locked " +
        "revision, or hold the affected packages; check again after the issues are fixed."
      );
  }
}
