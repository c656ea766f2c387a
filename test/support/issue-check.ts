/** A flake directory with a flake.lock, and GitHub settings pointing at the fake, for issue-check tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GithubSettings, githubSettings } from "../../src/engine/updates/github.js";

export const LOCKED_REV = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
/** 2026-11-01T00:00:00Z: the recorded issues updated before it are not news of this update. */
export const LOCKED_AT = 1_793_491_200;

/** The packages a recorded update changes, with the versions the closure diff would print. */
export const CHANGING = [
  { name: "systemd", oldVersion: "256.7", newVersion: "256.8" },
  { name: "firefox", oldVersion: "132.0.2", newVersion: "133.0" },
  { name: "linux", oldVersion: "6.11.9", newVersion: "6.12.1" },
  { name: "go", oldVersion: "1.23.2", newVersion: "1.23.3" },
  { name: "htop", oldVersion: "3.3.0", newVersion: "3.3.1" },
  { name: "openssl", oldVersion: "3.3.2", newVersion: "3.3.3" },
];

/** A scratch directory holding `flake/` (flake.nix and flake.lock) and `state/` (XDG_STATE_HOME). */
export function scratchFlake(): { root: string; flake: string; state: string } {
  const root = mkdtempSync(join(tmpdir(), "nix-deploy-issues-"));
  const flake = join(root, "flake");
  mkdirSync(flake);
  writeFileSync(
    join(flake, "flake.nix"),
    '{ inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable"; outputs = _: { }; }\n',
  );
  writeFileSync(
    join(flake, "flake.lock"),
    JSON.stringify({
      nodes: {
        nixpkgs: {
          locked: {
            lastModified: LOCKED_AT,
            owner: "NixOS",
            repo: "nixpkgs",
            rev: LOCKED_REV,
            type: "github",
          },
          original: { owner: "NixOS", ref: "nixos-unstable", repo: "nixpkgs", type: "github" },
        },
        root: { inputs: { nixpkgs: "nixpkgs" } },
      },
      root: "root",
      version: 7,
    }),
  );
  return { root, flake, state: join(root, "state") };
}

/**
 * Settings as the server derives them from its environment, with retry pauses short enough for a
 * test; the request timeout stays long enough for a loaded machine unless a test shortens it.
 */
export function fakeSettings(
  baseUrl: string,
  state: string,
  env: NodeJS.ProcessEnv = {},
  overrides: Partial<GithubSettings> = {},
): GithubSettings {
  return {
    ...githubSettings({ NIX_DEPLOY_GITHUB_API: baseUrl, XDG_STATE_HOME: state, ...env }),
    timeoutMs: 5000,
    maxWaitMs: 3000,
    retryPauseMs: 10,
    ...overrides,
  };
}
