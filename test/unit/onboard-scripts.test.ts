import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseHomeGenerations } from "../../src/engine/fleet/home-manager.js";
import { hostScript } from "../../src/engine/host/scripts.js";
import { entriesFor, knownHostsName, recordHostKey } from "../../src/engine/onboard/known-hosts.js";
import {
  factsFromLines,
  nixSystem,
  parseFactLines,
  parseGpus,
} from "../../src/engine/onboard/machine-facts.js";

const sh = (script: string, args: string[] = [], wrap: string[] = []) =>
  spawnSync(
    wrap[0] ?? "sh",
    [...wrap.slice(1), ...(wrap.length ? ["sh"] : []), "-c", script, "test", ...args],
    {
      encoding: "utf8",
    },
  );
const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "nix-deploy-onboard-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("facts.sh, run with a local sh", () => {
  it("prints one NAME<TAB>SOURCE<TAB>VALUE line per fact, a missing tool as unknown, and exits 0", () => {
    const run = sh(hostScript("facts"));
    expect(run.status).toBe(0);
    const lines = parseFactLines(run.stdout);
    const names = new Set(lines.map((l) => l.name));
    for (const name of ["nixos", "arch", "memory-kib", "boot", "nix-free-kib", "cache", "tool"])
      expect(names, name).toContain(name);
    expect(lines.find((l) => l.name === "boot")?.source).toBe("/sys/firmware/efi");
    // This machine has no lspci: the GPU is unknown, not an error.
    const facts = factsFromLines("here", run.stdout, []);
    expect(facts.system).toBe(process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux");
    expect(typeof facts.memoryBytes).toBe("number");
    if (!spawnSync("sh", ["-c", "command -v lspci"]).stdout.length) expect(facts.gpu.vendor).toBe("unknown");
  });
});

describe("the facts' parsers", () => {
  it("name Nix systems and pick the discrete GPU with its driver state", () => {
    expect(nixSystem("aarch64", "Linux")).toBe("aarch64-linux");
    expect(nixSystem("sparc", "Linux")).toBe("unknown");
    const line = (name: string, value: string) => ({ name, source: "lspci -nnk", value });
    const hybrid = [
      line("pci", "00:02.0 VGA compatible controller [0300]: Intel Corporation UHD [8086:3e9b]"),
      line("pci", "\tKernel driver in use: i915"),
      line("pci", "01:00.0 3D controller [0302]: NVIDIA Corporation TU106M [10de:1f15]"),
      line("nvidia-smi", "NVIDIA GeForce RTX 2060, 550.78"),
    ];
    expect(parseGpus(hybrid)).toMatchObject({ vendor: "nvidia", driver: "nvidia 550.78" });
    expect(parseGpus([line("pci", "00:1f.3 Audio device [0403]: Intel [8086:8d20]")])).toMatchObject({
      vendor: "none",
    });
    expect(parseGpus([line("pci", "unknown")]).vendor).toBe("unknown");
  });
});

describe("home-generations.sh and home-manager-activate.sh", () => {
  it.skipIf(!root)(
    "list a user's profile links with the current one, as root in a private mount namespace",
    () => {
      const profiles = join(dir, "per-user");
      mkdirSync(join(profiles, "bob"), { recursive: true });
      for (const n of [1, 2])
        symlinkSync(
          `/nix/store/gen${n}-home-manager-generation`,
          join(profiles, "bob", `home-manager-${n}-link`),
        );
      symlinkSync("home-manager-1-link", join(profiles, "bob", "home-manager"));
      const run = sh(
        `mkdir -p /nix/var/nix/profiles/per-user && mount --bind "$1" /nix/var/nix/profiles/per-user && sh -c "$2"`,
        [profiles, hostScript("home-generations")],
        ["unshare", "--mount", "--propagation", "private"],
      );
      expect(run.status, run.stderr).toBe(0);
      const [bob] = parseHomeGenerations(run.stdout).filter((p) => p.user === "bob");
      expect(bob?.profile).toBe("/nix/var/nix/profiles/per-user/bob/home-manager");
      expect(bob?.generations.map((g) => [g.number, g.current, g.path])).toEqual([
        [1, true, "/nix/store/gen1-home-manager-generation"],
        [2, false, "/nix/store/gen2-home-manager-generation"],
      ]);
    },
  );

  it("refuses what is not a home-manager generation in the store, before running anything", () => {
    const fake = join(dir, "fake");
    mkdirSync(fake);
    writeFileSync(join(fake, "activate"), "#!/bin/sh\ntouch /tmp/nix-deploy-pwned\n", { mode: 0o755 });
    const outside = sh(hostScript("home-manager-activate"), ["root", fake]);
    expect(outside.status).toBe(2);
    expect(outside.stderr).toContain("not a store path");
    const noActivate = sh(hostScript("home-manager-activate"), [
      "root",
      "/nix/store/nonexistent-home-manager-generation",
    ]);
    expect(noActivate.status).toBe(2);
    expect(noActivate.stderr).toContain("no activate script");
  });
});

describe("known_hosts entries", () => {
  it("add a key beside the old one, then replace them, keeping other hosts and a backup", () => {
    const file = join(dir, "known_hosts");
    writeFileSync(file, "[127.0.0.1]:2222 ssh-ed25519 OLD\nother ssh-ed25519 KEEP\n");
    const name = knownHostsName("root@127.0.0.1", 2222);
    expect(name).toBe("[127.0.0.1]:2222");
    recordHostKey(file, name, "ssh-ed25519 NEW", false);
    expect(entriesFor(spawnSync("cat", [file], { encoding: "utf8" }).stdout, name)).toHaveLength(2);
    recordHostKey(file, name, "ssh-ed25519 NEW", true);
    const text = spawnSync("cat", [file], { encoding: "utf8" }).stdout;
    expect(text).toBe("other ssh-ed25519 KEEP\n[127.0.0.1]:2222 ssh-ed25519 NEW\n");
    expect(spawnSync("cat", [`${file}.bak`], { encoding: "utf8" }).stdout).toContain("OLD");
  });
});
