/**
 * Onboarding through a real MCP client and the built CLI, on the simulated fleet: add_host for each
 * GPU vendor (its diff first, then written, checked, evaluated), the new host deployed onto a
 * machine of the fleet, a hostile name refused, a host that fails to evaluate rolled back byte for
 * byte, and backup / restore with a damaged backup reported.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { skipFleetReason } from "../fleet/harness.js";
import { textOf, useFleetAndServer } from "./client.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const DISK = "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0R123456";
const ALL_SERVICES = ["postgresql", "redis", "nginx", "prometheus", "grafana", "fail2ban", "autoUpgrade"];

type Check = { check: string; ok: boolean; detail: string };
type AddHostOut = {
  status: string;
  host: string;
  files: Array<{ path: string; action: string; diff: string }>;
  checks: Check[];
  backup?: string;
  error?: string;
  notes: string[];
  recordId: string;
  next: string;
};

/** Every file of the flake but .git, with a hash of its bytes: equal snapshots, equal files. */
function snapshotFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory() && entry.name !== ".git") walk(full);
      else if (entry.isFile())
        files[relative(dir, full)] = createHash("sha256").update(readFileSync(full)).digest("hex");
    }
  };
  walk(dir);
  return files;
}

const skip = skipFleetReason();

describe.skipIf(skip)("onboarding a machine on the simulated fleet", () => {
  const context = useFleetAndServer(["samsung"]);
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await context.server.client.callTool({ name, arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    return result.structuredContent;
  };
  const fail = async (name: string, args: Record<string, unknown>) => {
    const result = await context.server.client.callTool({ name, arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, JSON.stringify(result.structuredContent)).toBe(true);
    return textOf(result);
  };
  const git = (...args: string[]) =>
    execa("git", args, { cwd: context.fleet.flakeDir, env: { ...process.env, ...context.fleet.env } });
  const cli = (args: string[]) =>
    execa(process.execPath, [CLI, "--flake", context.fleet.flakeDir, ...args], {
      env: { ...process.env, ...context.fleet.env },
      reject: false,
      timeout: 300_000,
    });

  it("add_host.name, system, boot, gpu, disk, user, services, target, port, tags, dryRun: each GPU vendor, with and without home-manager and services, shown, written, checked, evaluated, then deployed", async () => {
    const fleet = context.fleet;
    const cases = [
      { name: "nv1", gpu: "nvidia", boot: "efi", user: "alice", services: ALL_SERVICES },
      { name: "amd1", gpu: "amd", boot: "bios", user: "bob" },
      { name: "intel1", gpu: "intel", boot: "efi", services: ["postgresql", "fail2ban"] },
      { name: "plain1", gpu: "none", boot: "bios" },
    ];
    for (const c of cases) {
      const input = {
        ...c,
        system: process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux",
        disk: DISK,
        target: "root@127.0.0.1",
        port: fleet.hosts.get("samsung")?.port,
        tags: ["new"],
      };
      const before = snapshotFiles(fleet.flakeDir);
      const planned = (await call("add_host", input)) as AddHostOut;
      expect(planned.status).toBe("planned");
      expect(snapshotFiles(fleet.flakeDir)).toEqual(before);
      const byPath = Object.fromEntries(planned.files.map((f) => [f.path, f]));
      const configuration = byPath[`hosts/${c.name}/configuration.nix`];
      expect(configuration?.diff).toMatch(
        /^--- \/dev\/null\n\+\+\+ b\/hosts\/.*\/configuration.nix\n@@ -0,0 \+1,\d+ @@\n/,
      );
      expect(configuration?.diff).toContain(`+  networking.hostName = "${c.name}";`);
      expect(byPath["flake.nix"]?.diff).toContain(`+        ${c.name} = nixpkgs.lib.nixosSystem {`);
      expect(byPath["nix-deploy.json"]?.action).toBe("change");
      expect(byPath[`hosts/${c.name}/disko.nix`]?.diff).toContain(`+    device = "${DISK}";`);
      expect(byPath[`hosts/${c.name}/boot.nix`]?.diff).toContain(
        c.boot === "efi" ? "+    systemd-boot.enable = true;" : "+  boot.loader.grub.enable = true;",
      );
      const gpu = byPath[`hosts/${c.name}/gpu.nix`]?.diff;
      if (c.gpu === "none") expect(gpu).toBeUndefined();
      else expect(gpu).toContain(`"${{ nvidia: "nvidia", amd: "amdgpu", intel: "modesetting" }[c.gpu]}"`);
      expect(Boolean(byPath[`hosts/${c.name}/home.nix`])).toBe(Boolean(c.user));
      for (const service of ALL_SERVICES)
        expect(Boolean(byPath[`hosts/${c.name}/services/${service}.nix`])).toBe(
          Boolean(c.services?.includes(service)),
        );
      if (c.user)
        expect(planned.notes.join("\n")).toMatch(/no home-manager input: hosts\/.*\/home.nix is written/);

      const written = (await call("add_host", { ...input, dryRun: false })) as AddHostOut;
      expect(written.status, written.error).toBe("written");
      expect(written.checks.map((k) => [k.check, k.ok])).toEqual([
        ["parse", true],
        ["lint", true],
        ["security rules", true],
        ["evaluation", true],
        ["security audit", true],
      ]);
      expect(written.checks.find((k) => k.check === "lint")?.detail).toBe("no findings");
      expect(written.checks.find((k) => k.check === "evaluation")?.detail).toMatch(
        new RegExp(`^/nix/store/.*-nixos-system-${c.name}-fixture\\.drv$`),
      );
      const inventory = JSON.parse(readFileSync(join(fleet.flakeDir, "nix-deploy.json"), "utf8"));
      expect(inventory.hosts[c.name]).toMatchObject({
        target: "root@127.0.0.1",
        port: input.port,
        tags: ["new"],
      });
      await fleet.commit(`add ${c.name}`);
    }

    // nv1 is the machine behind samsung's address now: a fresh machine taking its new configuration.
    const deployed = (await call("deploy", { hosts: ["nv1"] })) as {
      hosts: Array<{ host: string; outcome: string }>;
    };
    expect(deployed.hosts).toMatchObject([{ host: "nv1", outcome: "deployed" }]);
    const units = await fleet.onHost(
      "samsung",
      "cat /run/current-system/hostname; systemctl is-active sshd postgresql redis-main nginx grafana fail2ban",
    );
    expect(units.stdout.trim().split("\n")).toEqual([
      "nv1",
      "active",
      "active",
      "active",
      "active",
      "active",
      "active",
    ]);

    const report = await context.server.client.readResource({
      uri: "nix-deploy://reports/onboarding/latest",
    });
    const text = String((report.contents[0] as { text?: string }).text);
    expect(text).toContain("# Onboarding report: plain1");
    expect(text).toContain("✅ **Status: WRITTEN**");
    expect(text).toContain("- ✓ evaluation: /nix/store/");
  });

  it("plans the onboarding of a new machine and gives the assistant its flow", async () => {
    const plan = (await call("plan", { request: "Onboard newbox2" })) as {
      action: string;
      hosts: string[];
      phases: Array<{ tool?: string; gate: string }>;
      next: string;
    };
    expect(plan).toMatchObject({ action: "onboard", hosts: ["newbox2"] });
    expect(plan.phases.map((p) => [p.tool, p.gate])).toEqual([
      ["host_facts", "runs"],
      ["add_host", "asks"],
      ["add_host", "blocks"],
      ["install_host", "asks"],
    ]);
    expect(plan.next).toContain("nix-deploy://reports/onboarding/latest");
    expect(await fail("plan", { request: "Add host samsung" })).toMatch(
      /samsung is a host of the fleet already/,
    );
    const prompt = await context.server.client.getPrompt({ name: "onboard", arguments: { host: "newbox2" } });
    const text = prompt.messages.map((m) => (m.content as { text?: string }).text ?? "").join("\n");
    expect(text).toMatch(/Call add_host for newbox2: add_host with the facts \(dry run\)/);
    expect(text).toContain("never guess a disk");
  });

  it("refuses a hostile host or user name and a kernel disk name, writing nothing", async () => {
    const fleet = context.fleet;
    const before = snapshotFiles(fleet.flakeDir);
    const base = { name: "ok1", system: "x86_64-linux", boot: "efi", gpu: "none", disk: DISK };
    expect(await fail("add_host", { ...base, name: 'x"; users.users.root.password = "pwned"; "' })).toMatch(
      /a host name is letters, digits and inner hyphens/,
    );
    expect(await fail("add_host", { ...base, name: "let" })).toMatch(/a Nix keyword cannot name a host/);
    expect(await fail("add_host", { ...base, user: "a = 1; b" })).toMatch(
      /a user name is lower-case letters/,
    );
    expect(await fail("add_host", { ...base, disk: "/dev/sda" })).toMatch(
      /\/dev\/sda is a kernel name, which can change between boots[\s\S]*\/dev\/disk\/by-id/,
    );
    expect(await fail("add_host", { ...base, disk: `${DISK}-part1` })).toMatch(/is a partition/);
    expect(await fail("add_host", { ...base, name: "samsung" })).toMatch(
      /samsung is a host of this flake already/,
    );
    expect(snapshotFiles(fleet.flakeDir)).toEqual(before);
  });

  it("add_host.facterReport: a host that fails to evaluate is rolled back byte for byte, with the error shown", async () => {
    const fleet = context.fleet;
    // A report cut off while it was saved: the facter module reads it when the host evaluates.
    writeFileSync(
      join(fleet.flakeDir, "broken1-facter.json"),
      '{"version": 1, "system": "x86_64-linux", "hardware": {',
    );
    const before = snapshotFiles(fleet.flakeDir);
    const status = (await git("status", "--porcelain")).stdout;
    const out = (await call("add_host", {
      name: "broken1",
      system: "x86_64-linux",
      boot: "efi",
      gpu: "amd",
      disk: DISK,
      facterReport: "broken1-facter.json",
      user: "carol",
      services: ["nginx"],
      dryRun: false,
    })) as AddHostOut;
    expect(out.status).toBe("rolled-back");
    expect(out.error).toMatch(/nix eval .*broken1.* failed:[\s\S]*(parse_error|JSON)/);
    expect(out.files.find((f) => f.path === "hosts/broken1/facter.nix")?.diff).toContain(
      "+  hardware.facter.reportPath = ../../broken1-facter.json;",
    );
    expect(snapshotFiles(fleet.flakeDir)).toEqual(before);
    expect((await git("status", "--porcelain")).stdout).toBe(status);
    const report = await context.server.client.readResource({
      uri: `nix-deploy://reports/onboarding/${out.recordId}`,
    });
    expect(String((report.contents[0] as { text?: string }).text)).toContain("ROLLED BACK");
    // The backup it restored from is listed with the flake's backups.
    const listed = (await call("backup", { list: true })) as { backups: Array<{ id: string; kind: string }> };
    expect(listed.backups).toContainEqual(expect.objectContaining({ id: out.backup, kind: "add-host" }));
  });

  it("backup.path, reason, keep, list and restore.backup: files back byte for byte; a damaged backup is named, nothing lost", async () => {
    const fleet = context.fleet;
    const before = snapshotFiles(fleet.flakeDir);
    const taken = (await call("backup", { reason: "before onboarding", keep: 5 })) as {
      backup: { id: string; files: number; reason: string };
      directory: string;
    };
    expect(taken.backup.reason).toBe("before onboarding");
    const hostOnly = (await call("backup", { path: "hosts/nv1" })) as {
      backup: { id: string; files: number };
    };
    expect(hostOnly.backup.files).toBeGreaterThan(5);

    writeFileSync(join(fleet.flakeDir, "flake.nix"), "{ broken");
    writeFileSync(join(fleet.flakeDir, "hosts", "nv1", "gpu.nix"), "{ }\n");
    const changed = snapshotFiles(fleet.flakeDir);
    // A damaged copy: named, and nothing written.
    const copy = join(taken.directory, "files", "hosts", "nv1", "boot.nix");
    const good = readFileSync(copy);
    writeFileSync(copy, "{ tampered }\n");
    expect(await fail("restore", { backup: taken.backup.id })).toMatch(
      /cannot be restored; nothing was changed:\nhosts\/nv1\/boot.nix: the copy does not match the manifest/,
    );
    expect(snapshotFiles(fleet.flakeDir)).toEqual(changed);
    writeFileSync(copy, good);
    const restored = (await call("restore", { backup: taken.backup.id })) as {
      restored: string;
      replacedBackup: string;
    };
    expect(restored.restored).toBe(taken.backup.id);
    expect(snapshotFiles(fleet.flakeDir)).toEqual(before);

    // A damaged manifest: reported by name, never restored.
    writeFileSync(join(taken.directory, "manifest.json"), "{ cut off");
    expect(await fail("restore", { backup: taken.backup.id })).toMatch(
      /the manifest of backup .* is damaged/,
    );
    const listed = (await call("backup", { list: true })) as { damaged: Array<{ id: string }> };
    expect(listed.damaged.map((d) => d.id)).toContain(taken.backup.id);
    expect(snapshotFiles(fleet.flakeDir)).toEqual(before);
  });

  it("the CLI shows add-host's diff, backs up, restores and shows the onboarding report", async () => {
    const addHost = ["add-host", "cli1", "--system", "x86_64-linux", "--boot", "efi", "--gpu", "intel"];
    const dry = await cli([...addHost, "--disk", DISK, "--service", "redis", "--dry-run"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("+++ b/hosts/cli1/services/redis.nix");
    expect(dry.stdout).toMatch(/call nix-deploy add-host with the same input and no --dry-run/);
    const refused = await cli([...addHost, "--disk", "/dev/nvme0n1", "--yes"]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/kernel name/);

    const backedUp = await cli(["backup", "hosts", "--reason", "cli"]);
    expect(backedUp.exitCode, backedUp.stderr).toBe(0);
    expect(backedUp.stdout).toMatch(/backed up \d+ files of hosts as /);
    writeFileSync(join(context.fleet.flakeDir, "hosts", "samsung.nix"), "{ }\n");
    const restored = await cli(["restore", "latest", "--yes"]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.stdout).toContain("restored hosts/samsung.nix");
    expect(readFileSync(join(context.fleet.flakeDir, "hosts", "samsung.nix"), "utf8")).toContain(
      "samsung: small laptop",
    );

    const report = await cli(["onboarding", "latest"]);
    expect(report.stdout).toContain("# Onboarding report: cli1");
    expect(report.stdout).toContain("PLANNED");
  });
});
