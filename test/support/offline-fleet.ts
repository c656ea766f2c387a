/**
 * A small flake whose hosts never answer, for the tests that need real Nix and git but no host:
 * hosts `a` (tags web) and `b` (tags db) build in a second with /bin/sh, and their inventory
 * entries point at loopback ports nothing listens on, so every ssh attempt is refused at once. Two inputs,
 * `alpha` and `beta` (plain git repositories, `flake = false`), set the versions of the packages
 * `systemd` (256.7) and `hello` (2.12) in both systems; `bump` moves one of them as an upstream would.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { freePort, testEnv } from "../fleet/harness.js";

export interface OfflineFleet {
  root: string;
  flakeDir: string;
  /** Environment for the engine and every process: nix without caches or registry, state, git identity. */
  env: Record<string, string>;
  /** Commits a new version into input `alpha` or `beta`; the flake's lock still has the old one. */
  bump(input: "alpha" | "beta", version: string): Promise<void>;
  /** Runs git in the flake. */
  git(...args: string[]): Promise<string>;
  remove(): void;
}

const FLAKE = `{
  inputs.alpha = { url = "git+file://@ROOT@/alpha"; flake = false; };
  inputs.beta = { url = "git+file://@ROOT@/beta"; flake = false; };
  outputs = { self, alpha, beta }:
    let
      system = "@SYSTEM@";
      version = input: builtins.replaceStrings [ "\\n" ] [ "" ] (builtins.readFile "\${input}/version");
      package = name: input: derivation {
        name = "\${name}-\${version input}";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "echo \${name} > $out" ];
      };
      host = name: {
        config.system.build.toplevel = derivation {
          name = "nixos-system-\${name}";
          inherit system;
          builder = "/bin/sh";
          args = [ "-c" "echo \${package "systemd" alpha} \${package "hello" beta} > $out" ];
        };
      };
    in { nixosConfigurations = { a = host "a"; b = host "b"; }; };
}
`;

export async function offlineFleet(): Promise<OfflineFleet> {
  const root = mkdtempSync(join(tmpdir(), "nix-deploy-offline-"));
  const flakeDir = join(root, "flake");
  const env = testEnv(root);
  const run = async (cwd: string, file: string, ...args: string[]) =>
    String((await execa(file, args, { cwd, env: { ...process.env, ...env } })).stdout);
  const commitVersion = async (input: string, version: string) => {
    writeFileSync(join(root, input, "version"), `${version}\n`);
    await run(join(root, input), "git", "add", "-A");
    await run(join(root, input), "git", "commit", "-q", "-m", `${input} ${version}`);
  };
  for (const [input, version] of [
    ["alpha", "256.7"],
    ["beta", "2.12"],
  ] as const) {
    mkdirSync(join(root, input));
    await run(join(root, input), "git", "init", "-q", "-b", "main");
    await commitVersion(input, version);
  }
  mkdirSync(flakeDir);
  const system = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";
  writeFileSync(join(flakeDir, "flake.nix"), FLAKE.replaceAll("@ROOT@", root).replace("@SYSTEM@", system));
  const hosts = {
    a: { target: "root@127.0.0.1", port: await freePort(), tags: ["web"] },
    b: { target: "root@127.0.0.1", port: await freePort(), tags: ["db"] },
  };
  writeFileSync(join(flakeDir, "nix-deploy.json"), `${JSON.stringify({ hosts }, null, 2)}\n`);
  await run(flakeDir, "git", "init", "-q", "-b", "main");
  await run(flakeDir, "git", "add", "-A");
  await run(flakeDir, "nix", "flake", "lock");
  await run(flakeDir, "git", "add", "-A");
  await run(flakeDir, "git", "commit", "-q", "-m", "offline fleet");
  return {
    root,
    flakeDir,
    env,
    bump: (input, version) => commitVersion(input, version),
    git: (...args) => run(flakeDir, "git", ...args),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
