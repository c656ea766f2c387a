/**
 * Onboarding on the simulated fleet, through the MCP client and the CLI: host facts of every host
 * at once (one not answering), a saved facter report, home-manager generations and their rollback,
 * and installing two simulated installers with the stand-in nixos-anywhere, whose host key the
 * first deploy then verifies.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rollbackResultSchema } from "../../src/engine/deploy/rollback.js";
import { hostFactsResultSchema } from "../../src/engine/onboard/facts.js";
import { installHostResultSchema } from "../../src/engine/onboard/install.js";
import { DEPLOYER_BIN, HARDWARE, HOME_USER } from "../fleet/hardware.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { connectStdio, type StdioServer, textOf } from "./client.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const INSTALL_DISK = HARDWARE.installer?.disks[0]?.id as string;

describe.skipIf(skipFleetReason())("onboarding machines", () => {
  let fleet: SimFleet;
  let server: StdioServer;
  let asking: StdioServer;
  let typed = "";
  let env: Record<string, string>;
  const record = () => join(fleet.dir, "nixos-anywhere.args");

  beforeAll(async () => {
    // samsung is not started: its inventory port is closed.
    fleet = await startFleet({ hosts: ["p620", "p510", "razer"], installers: ["fresh", "spare"] });
    // The installers' configurations, with a disko layout for the disk by its id.
    const flakeFile = join(fleet.flakeDir, "flake.nix");
    writeFileSync(
      flakeFile,
      readFileSync(flakeFile, "utf8").replace(
        'p620 = host "p620";',
        'fresh = host "fresh";\n        spare = host "spare";\n        p620 = host "p620";',
      ),
    );
    for (const name of ["fresh", "spare"])
      writeFileSync(
        join(fleet.flakeDir, "hosts", `${name}.nix`),
        `{\n  packages = [ "htop" ];\n  services = { sshd = { package = "openssh"; }; };\n  disko.devices.disk.main.device = "/dev/disk/by-id/${INSTALL_DISK}";\n}\n`,
      );
    await fleet.commit("two hosts to install");
    env = {
      ...fleet.env,
      PATH: `${DEPLOYER_BIN}:${process.env.PATH}`,
      NIXOS_ANYWHERE_RECORD: join(fleet.dir, "nixos-anywhere.args"),
    };
    server = await connectStdio(["--flake", fleet.flakeDir], env);
    asking = await connectStdio(["--flake", fleet.flakeDir], env, {
      elicit: () => ({ action: "accept", content: { answer: typed } }),
    });
  }, 300_000);
  afterAll(async () => {
    await server?.close();
    await asking?.close();
    await fleet?.stop();
  });

  const call = async (client: StdioServer, name: string, args: Record<string, unknown>) => {
    const result = await client.client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
    expect(result.isError, textOf(result)).toBeFalsy();
    return result.structuredContent;
  };

  it("host_facts reads every host in parallel, a host that does not answer as a failed check, and saves a facter report", async () => {
    const result = hostFactsResultSchema.parse(await call(server, "host_facts", { hosts: ["all"] }));
    const byHost = new Map(result.hosts.map((h) => [h.host, h]));
    expect(result.status).toBe("failed");
    expect(byHost.get("samsung")).toMatchObject({ check: "fail" });
    expect(byHost.get("samsung")?.reason).toMatch(/refused|closed/i);
    const p620 = byHost.get("p620")?.facts;
    expect(p620).toMatchObject({
      nixos: true,
      installer: false,
      boot: "efi",
      gpu: { vendor: "amd", driver: "amdgpu" },
    });
    expect(p620?.disks).toEqual([
      { id: HARDWARE.p620?.disks[0]?.id, device: "nvme0n1", sizeBytes: 1000204886016 },
    ]);
    expect(p620?.systemGeneration).toBe(1);
    expect(p620?.sources.boot).toBe("/sys/firmware/efi");
    expect(byHost.get("p510")?.facts).toMatchObject({
      boot: "bios",
      gpu: { vendor: "nvidia", driver: "nvidia 550.78" },
    });
    expect(byHost.get("razer")?.facts?.gpu.driver).toMatch(/^not working: NVIDIA-SMI has failed/);
    const fresh = byHost.get("fresh")?.facts;
    expect(fresh).toMatchObject({ nixos: true, installer: true, gpu: { vendor: "intel" } });
    expect(fresh?.currentSystem).toBeUndefined();
    expect(fresh?.disks.map((d) => d.id)).toEqual(HARDWARE.installer?.disks.map((d) => d.id).sort());
    // The report as nixos-facter printed it, byte for byte, where hardware.facter.reportPath finds it.
    const saved = join(fleet.flakeDir, "hosts", "p620", "facter.json");
    const printed = readFileSync(
      join(fleet.runDir("p620"), "nix-deploy-sim", "hardware", "facter.json"),
      "utf8",
    );
    expect(readFileSync(saved, "utf8")).toBe(printed);
    expect(byHost.get("p620")?.facter?.reportPath).toBe(
      "hardware.facter.reportPath = ./hosts/p620/facter.json;",
    );
    expect(byHost.get("p510")?.facter).toBeUndefined();
    // Saved again, the previous report is kept first.
    const again = hostFactsResultSchema.parse(await call(server, "host_facts", { hosts: ["p620"] }));
    expect(again.hosts[0]?.facter?.backup).toBe("hosts/p620/facter.json.bak");
    expect(existsSync(`${saved}.bak`)).toBe(true);
    // saveFacter: false reads the facts and leaves the flake alone.
    rmSync(saved);
    const unsaved = hostFactsResultSchema.parse(
      await call(server, "host_facts", { hosts: ["p620"], saveFacter: false }),
    );
    expect(unsaved.hosts[0]?.facter).toBeUndefined();
    expect(existsSync(saved)).toBe(false);
  });

  it("host_facts of the local machine runs without ssh", async () => {
    const result = hostFactsResultSchema.parse(
      await call(server, "host_facts", { local: true, name: "deployer" }),
    );
    expect(result.hosts[0]).toMatchObject({ host: "deployer", check: "pass", facts: { nixos: false } });
  });

  it("host_status lists a user's home-manager generations, and rollback returns one, as the user", async () => {
    const status = (await call(server, "host_status", { host: "razer" })) as {
      homeManager: Array<{
        user: string;
        generations: Array<{ number: number; current: boolean; path: string }>;
      }>;
    };
    const [generation1, generation2] = fleet.hosts.get("razer")?.homeGenerations ?? [];
    expect(status.homeManager).toEqual([
      expect.objectContaining({
        user: HOME_USER.name,
        generations: [
          expect.objectContaining({ number: 1, current: false, path: generation1 }),
          expect.objectContaining({ number: 2, current: true, path: generation2 }),
        ],
      }),
    ]);
    const result = rollbackResultSchema.parse(
      await call(server, "rollback", { hosts: ["razer"], homeManagerUser: HOME_USER.name }),
    );
    expect(result.status, JSON.stringify(result)).toBe("succeeded");
    expect(result.hosts[0]).toMatchObject({
      outcome: "switched",
      generationBefore: 2,
      targetGeneration: 1,
      generationAfter: 3,
    });
    const home = await fleet.onHost(
      "razer",
      `cat /home/${HOME_USER.name}/.config/home-generation; stat -c %U /home/${HOME_USER.name}/.config`,
    );
    expect(home.stdout.split("\n")).toEqual(["1", HOME_USER.name]);
    // The system was not touched; a user without home-manager is refused by name.
    expect(fleet.switches("razer")).toHaveLength(1);
    const nobody = rollbackResultSchema.parse(
      await call(server, "rollback", { hosts: ["razer"], homeManagerUser: "bob" }),
    );
    expect(nobody.hosts[0]).toMatchObject({ outcome: "refused" });
    expect(nobody.hosts[0]?.error).toContain(`users with one: ${HOME_USER.name}`);
  });

  it("install_host plans by default, refuses a disk that is not there, and without the typed disk touches nothing", async () => {
    const planned = installHostResultSchema.parse(
      await call(server, "install_host", { host: "fresh", disk: INSTALL_DISK }),
    );
    expect(planned.status, JSON.stringify(planned.checks)).toBe("planned");
    expect(planned.phases).toEqual(["disko", "install", "reboot"]);
    expect(planned.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(["architecture", "memory", "disk", "disko layout", "known_hosts"]),
    );
    // An explicit address: the installer where it answers, or a closed port that refuses the plan.
    const port = fleet.hosts.get("fresh")?.port as number;
    const explicit = installHostResultSchema.parse(
      await call(server, "install_host", {
        host: "fresh",
        disk: INSTALL_DISK,
        target: "root@127.0.0.1",
        port,
      }),
    );
    expect(explicit).toMatchObject({ status: "planned", target: `root@127.0.0.1:${port}` });
    const closed = installHostResultSchema.parse(
      await call(server, "install_host", {
        host: "fresh",
        disk: INSTALL_DISK,
        target: "root@127.0.0.1",
        port: 1,
      }),
    );
    expect(closed.status).toBe("refused");
    expect(closed.checks.find((c) => c.check === "reachable")).toMatchObject({ status: "fail" });
    const other = HARDWARE.installer?.disks[1]?.id as string;
    const wrongDisk = installHostResultSchema.parse(
      await call(server, "install_host", { host: "fresh", disk: other, dryRun: false }),
    );
    expect(wrongDisk.status).toBe("refused");
    expect(wrongDisk.checks.find((c) => c.check === "disko layout")).toMatchObject({ status: "fail" });
    const knownHosts = readFileSync(join(fleet.flakeDir, "known_hosts"), "utf8");
    // A client that cannot ask, and a user who types another id: declined, nothing run or recorded.
    const cannotAsk = installHostResultSchema.parse(
      await call(server, "install_host", { host: "fresh", disk: INSTALL_DISK, dryRun: false }),
    );
    expect(cannotAsk.status).toBe("declined");
    typed = other;
    const mistyped = installHostResultSchema.parse(
      await call(asking, "install_host", { host: "fresh", disk: INSTALL_DISK, dryRun: false }),
    );
    expect(mistyped.status).toBe("declined");
    expect(existsSync(record())).toBe(false);
    expect(readFileSync(join(fleet.flakeDir, "known_hosts"), "utf8")).toBe(knownHosts);
  });

  it("install_host with the typed disk runs nixos-anywhere, and the first deploy verifies the host key it recorded", async () => {
    typed = `/dev/disk/by-id/${INSTALL_DISK}`;
    const installed = installHostResultSchema.parse(
      await call(asking, "install_host", { host: "fresh", disk: INSTALL_DISK, dryRun: false }),
    );
    expect(installed.status, JSON.stringify(installed)).toBe("installed");
    expect(installed.verified).toBe(true);
    const port = String(fleet.hosts.get("fresh")?.port);
    const args = readFileSync(record(), "utf8").trim().split("\n");
    const extra = args[args.indexOf("--extra-files") + 1] as string;
    expect(args).toEqual([
      "--flake",
      `${fleet.flakeDir}#fresh`,
      "--target-host",
      "root@127.0.0.1",
      "-p",
      port,
      "-i",
      fleet.clientKey,
      "--extra-files",
      extra,
      "--phases",
      "disko,install,reboot",
    ]);
    // The private key existed only for the run; the machine now presents its public half.
    expect(existsSync(extra)).toBe(false);
    const presented = readFileSync(
      join(fleet.hosts.get("fresh")?.dir as string, "etc-upper", "ssh", "ssh_host_ed25519_key.pub"),
      "utf8",
    );
    expect(presented.split(" ").slice(0, 2).join(" ")).toBe(installed.hostKey);
    const lines = readFileSync(join(fleet.flakeDir, "known_hosts"), "utf8")
      .split("\n")
      .filter((l) => l.startsWith(`[127.0.0.1]:${port} `));
    expect(lines).toEqual([`[127.0.0.1]:${port} ${installed.hostKey}`]);
    // The first deploy reaches the installed machine through that entry alone.
    fleet.editHost("fresh", (text) => text.replace('"htop"', '"htop" "nginx"'));
    await fleet.commit("nginx on fresh");
    const deployed = (await call(server, "deploy", { hosts: ["fresh"] })) as {
      status: string;
      hosts: Array<{ outcome: string }>;
    };
    expect(deployed.status, JSON.stringify(deployed)).toBe("succeeded");
    expect(deployed.hosts[0]?.outcome).toBe("deployed");
  });

  it("the CLI: facts, a home-manager rollback, and install-host asking for the disk on the terminal", async () => {
    const cli = (args: string[]) =>
      execa(process.execPath, [CLI, "--flake", fleet.flakeDir, ...args], {
        env: { ...process.env, ...env },
        reject: false,
        timeout: 300_000,
      });
    const facts = await cli(["facts", "p510", "razer"]);
    expect(facts.exitCode, facts.stderr).toBe(0);
    expect(facts.stdout).toMatch(/p510 +\| gpu nvidia, driver nvidia 550\.78/);
    expect(facts.stdout).toMatch(
      new RegExp(`razer +\\| home-manager ${HOME_USER.name}: generations 1 2 3\\*`),
    );
    const back = await cli([
      "rollback",
      "razer",
      "--home-manager",
      HOME_USER.name,
      "--generation",
      "2",
      "--yes",
    ]);
    expect(back.exitCode, back.stdout + back.stderr).toBe(0);
    expect(
      (await fleet.onHost("razer", `cat /home/${HOME_USER.name}/.config/home-generation`)).stdout.trim(),
    ).toBe("2");
    // Not a terminal: nobody can type the disk, so nothing is installed, whatever --yes says.
    const piped = await cli(["install-host", "spare", "--disk", INSTALL_DISK, "--yes"]);
    expect(piped.exitCode).toBe(130);
    expect(piped.stdout).toContain("nobody could be asked to type the disk id");
    const onTerminal = (answer: string, path = env.PATH) =>
      execa(
        "script",
        [
          "-qec",
          `${process.execPath} ${CLI} --flake ${fleet.flakeDir} install-host spare --disk ${INSTALL_DISK}`,
          "/dev/null",
        ],
        {
          env: { ...process.env, ...env, PATH: path as string },
          input: answer,
          reject: false,
          timeout: 300_000,
        },
      );
    // Without nixos-anywhere on the PATH: the key is made and recorded, and the command is shown.
    const shown = await onTerminal(`${INSTALL_DISK}\n`, process.env.PATH);
    expect(shown.exitCode, shown.stdout).toBe(0);
    expect(shown.stdout).toContain("nixos-anywhere is not installed here");
    const keyDir = /--extra-files (\S+)/.exec(shown.stdout)?.[1] as string;
    expect(keyDir.startsWith(join(fleet.dir, "state"))).toBe(true);
    expect(statSync(join(keyDir, "etc", "ssh", "ssh_host_ed25519_key")).mode & 0o777).toBe(0o600);
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    const run = await onTerminal(`${INSTALL_DISK}\n`);
    expect(run.stdout).toContain(`ERASES the disk ${INSTALL_DISK}`);
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/spare: installed on/);
    expect(readFileSync(record(), "utf8")).toContain(`${fleet.flakeDir}#spare`);
    // The key of the shown command, never used, no longer verifies: only the installed one does.
    const spare = `[127.0.0.1]:${fleet.hosts.get("spare")?.port} `;
    expect(
      readFileSync(join(fleet.flakeDir, "known_hosts"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith(spare)),
    ).toHaveLength(1);
    const status = await cli(["status", "spare"]);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
  });
});
