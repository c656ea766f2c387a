import { scopeInput } from "../engine/analysis/files.js";
import { scanInput, scanResultSchema } from "../engine/analysis/scan.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "scan_antipatterns",
  title: "Scan for Nix anti-patterns",
  description:
    "Lints the flake's .nix files: statix's rules, deadnix's unused bindings and NixOS mistakes (mkIf true, " +
    "`// mkIf`, `with pkgs;` over a module, <nixpkgs> in a flake, secrets read into the store, clear-text " +
    "passwords, hard-coded store paths). Each finding has a stable code, a severity (block stops a deploy) " +
    "and what to write instead; safe fixes come as edits and are applied only with `fix: true` (originals " +
    "backed up). Silence one with `# nix-deploy: allow CODE` on the line before, or list codes and paths " +
    "in nix-deploy-scan.json.",
  input: { ...baseInput, ...scopeInput, ...scanInput },
  output: scanResultSchema,
  // Not read-only: `fix: true` rewrites files (after backing them up); without it nothing is written.
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  operation: async () => (await import("../engine/analysis/scan.js")).scanAntipatterns,
});
