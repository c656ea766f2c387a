import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import { hostScript } from "../../src/engine/host/scripts.js";
import { remoteCommandLine } from "../../src/engine/remote/quote.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { waitFor } from "../support/wait.js";
import { connectStdio, currentSystem, deployVia, type StdioServer } from "./client.js";

const skip = skipFleetReason();

async function generationsOf(fleet: SimFleet, host: string): Promise<number[]> {
  const out = (await fleet.onHost(host, "nix-env -p /nix/var/nix/profiles/system --list-generations")).stdout;
  return out
    .split("\n")
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((n) => !Number.isNaN(n));
}

function recordOf(fleet: SimFleet, id: string) {
  const file = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "deployments", `${id}.json`);
  return JSON.parse(readFileSync(file, "utf8"));
}

/** The supervisor's directory of a deployment's activation on a host, read on the host's side. */
function supervisorDir(fleet: SimFleet, host: string, deploymentId: string): string {
  const runDir = join(fleet.runDir(host), "nix-deploy");
  const dirs = readdirSync(runDir).filter((d) => d.startsWith(`${deploymentId}-${host}-`));
  expect(dirs).toHaveLength(1);
  return join(runDir, dirs[0] as string);
}

/** What the fixture's switch-to-configuration found in its environment, last activation first. */
function activationEnvironments(fleet: SimFleet, host: string): string[] {
  return readFileSync(join(fleet.runDir(host), "nix-deploy-sim", "activation-env.log"), "utf8")
    .trim()
    .split("\n")
    .reverse();
}

/** Supervisor directories of activations that started after `known` was taken. */
function newRuns(runDir: string, known: string[]): string[] {
  try {
    return readdirSync(runDir).filter((d) => !known.includes(d));
  } catch {
    return [];
  }
}

function activationStarted(runDir: string, known: string[]): boolean {
  return newRuns(runDir, known).some((d) =>
    readFileSync(join(runDir, d, "activation.log"), "utf8").includes("activating"),
  );
}

function supervisorResult(runDir: string, known: string[]): string | undefined {
  for (const d of newRuns(runDir, known)) {
    if (existsSync(join(runDir, d, "result"))) return readFileSync(join(runDir, d, "result"), "utf8").trim();
  }
  return undefined;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const LOCALE_ARCHIVE = "LOCALE_ARCHIVE=/run/current-system/sw/lib/locale/locale-archive";

describe.skipIf(skip)("deploy under faults: locks and stale state of other deployers", () => {
  let fleet: SimFleet;
  const servers: StdioServer[] = [];
  const startServer = async () => {
    const server = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    fleet = await startFleet({ hosts: ["razer", "samsung"] });
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await fleet?.stop();
  });

  it("refuses a second deploy to a host being deployed, naming the holder", async () => {
    const server = await startServer();
    fleet.editHost("samsung", (t) =>
      t.replace("activation = { fail = false;", "activation = { delaySeconds = 2; fail = false;"),
    );
    await fleet.commit("slow samsung");
    const first = deployVia(server, { hosts: ["samsung"] });
    // The second starts once the first holds the host's lock.
    const lockFile = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "locks", "samsung.lock");
    await waitFor(() => readFileSync(lockFile, "utf8").length > 0, 60_000);
    const second = await deployVia(server, { hosts: ["samsung"] });
    const firstResult = await first;
    expect(firstResult.hosts[0]?.outcome).toBe("deployed");
    expect(second.status).toBe("failed");
    expect(second.hosts[0]?.error).toContain(
      `samsung is being deployed by deployment ${firstResult.deploymentId}`,
    );
  });

  it("takes over the lock of a deployer that died", async () => {
    const server = await startServer();
    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    const locks = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "locks");
    mkdirSync(locks, { recursive: true });
    writeFileSync(
      join(locks, "razer.lock"),
      JSON.stringify({
        deploymentId: "20260101-000000-dead00",
        pid: dead.pid,
        since: "2026-01-01T00:00:00Z",
      }),
    );
    fleet.editHost("razer", (t) => t.replace('packages = [ "', 'packages = [ "grafana" "'));
    await fleet.commit("grafana on razer");
    const result = await deployVia(server, { hosts: ["razer"] });
    expect(result.hosts[0]?.outcome).toBe("deployed");
    expect(result.hosts[0]?.notes).toContain(
      `took over the lock of deployment 20260101-000000-dead00, whose process (pid ${dead.pid}) is gone`,
    );
  });

  it("refuses installBootloader where no boot loader would be installed, instead of ignoring it", async () => {
    const server = await startServer();
    const result = await server.client.callTool({
      name: "deploy",
      arguments: { hosts: ["razer"], goal: "test", installBootloader: true },
    });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain(
      "installBootloader does nothing with the test goal: only switch and boot install a boot loader",
    );
  });

  it("removes activation state no supervisor will finish, and waits for one whose supervisor runs", async () => {
    const server = await startServer();
    const runDir = join(fleet.runDir("razer"), "nix-deploy");
    // A launch that died before it could record anything. Its pid file names the host's init, which
    // runs but is no process of this activation: a pid alone may have been reused.
    const dead = "20260101-000000-dead00-razer-000000000000";
    mkdirSync(join(runDir, dead), { recursive: true, mode: 0o700 });
    writeFileSync(join(runDir, dead, "launcher.pid"), "1\n");
    // A supervisor that still runs: its command line names its nonce, as the real one's does. It
    // leads its own process group, which the test stops.
    const live = "20260101-000000-live00-razer-111111111111";
    const started = await fleet.onHost(
      "razer",
      `mkdir -p /run/nix-deploy/${live}; setsid sh -c 'sleep 600; :' nix-deploy-watchdog ${live} < /dev/null > /dev/null 2>&1 & echo $! | tee /run/nix-deploy/${live}/supervisor.pid`,
    );
    const livePid = Number(started.stdout.trim());
    expect(livePid).toBeGreaterThan(1);
    try {
      // Both from long ago: their age alone decides nothing.
      await fleet.onHost("razer", `touch -d '2 hours ago' /run/nix-deploy/${dead} /run/nix-deploy/${live}`);
      fleet.editHost("razer", (t) => t.replace('packages = [ "', 'packages = [ "postgresql" "'));
      await fleet.commit("postgresql on razer");
      const pending = deployVia(server, { hosts: ["razer"] });
      // The deployment has looked once it removed the dead state; the live one must still be there.
      await waitFor(() => !existsSync(join(runDir, dead)), 120_000);
      expect(existsSync(join(runDir, live))).toBe(true);
      await fleet.onHost("razer", `kill -TERM -${livePid}`);
      const result = await pending;
      expect(result.hosts[0]?.outcome).toBe("deployed");
      expect(result.hosts[0]?.notes).toEqual(
        expect.arrayContaining([
          `waited for an earlier activation on the host to finish (${live})`,
          `removed the state of activations whose supervisor had gone without a verdict (${dead}, ${live})`,
        ]),
      );
    } finally {
      await fleet.onHost("razer", `kill -TERM -${livePid} 2> /dev/null`);
    }
  });
});

describe.skipIf(skip).each([
  { supervisor: "setsid", systemd: false, login: "root" },
  { supervisor: "systemd-run", systemd: true, login: "root" },
  // Hardened hosts: no root login; the login user gains root with sudo, as it must for every step
  // that changes the system. Everything behaves as it does for root.
  { supervisor: "setsid", systemd: false, login: "deploy" },
] as const)(
  "deploy under faults, activation under $supervisor, logged in as $login",
  ({ supervisor, systemd, login }) => {
    let fleet: SimFleet;
    const servers: StdioServer[] = [];
    let server: StdioServer;
    const startServer = async () => {
      const started = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
      servers.push(started);
      return started;
    };

    beforeAll(async () => {
      const access = { login, permitRootLogin: login === "root" };
      fleet = await startFleet({
        systemd,
        access: Object.fromEntries(["p620", "p510", "razer", "samsung"].map((name) => [name, access])),
      });
      server = await startServer();
    });
    afterAll(async () => {
      for (const started of servers) await started.close();
      await fleet?.stop();
    });

    /** The generation the first test deploys to p510, for the rollback test after it. */
    let deployedGeneration: number | undefined;

    it(`activates under ${supervisor} with what the activation needs, named in the record`, async () => {
      fleet.editHost("p510", (t) => t.replace('packages = [ "', 'packages = [ "firefox" "'));
      await fleet.commit("firefox on p510");
      const result = await deployVia(server, { hosts: ["p510"], installBootloader: true });
      const p510 = result.hosts[0];
      expect(p510?.outcome).toBe("deployed");
      const record = recordOf(fleet, result.deploymentId);
      expect(record.hosts.p510.supervisor).toBe(supervisor);
      expect(record.request.installBootloader).toBe(true);
      expect(activationEnvironments(fleet, "p510")[0]).toBe(
        `${p510?.newSystem} switch NIXOS_INSTALL_BOOTLOADER=1 ${LOCALE_ARCHIVE}`,
      );
      if (systemd) {
        const units = readFileSync(join(fleet.runDir("p510"), "nix-deploy-sim", "systemd-run.log"), "utf8");
        expect(units.trim().split("\n").at(-1)).toMatch(
          new RegExp(`^nix-deploy-${result.deploymentId}-p510-[0-9a-f]{12}\\.service$`),
        );
      }

      // Without the option, no boot loader is installed: a rollback activates without it.
      const back = await server.client.callTool(
        { name: "rollback", arguments: { hosts: ["p510"] } },
        undefined,
        { timeout: 120_000 },
      );
      expect(back.structuredContent).toMatchObject({ status: "succeeded" });
      expect(activationEnvironments(fleet, "p510")[0]).toBe(
        `${await currentSystem(fleet, "p510")} switch NIXOS_INSTALL_BOOTLOADER= ${LOCALE_ARCHIVE}`,
      );
      deployedGeneration = p510?.generationAfter;
    });

    it("rollback.installBootloader: a rollback asked to install the boot loader activates with it", async () => {
      const forward = await server.client.callTool(
        {
          name: "rollback",
          arguments: { hosts: ["p510"], generation: deployedGeneration, installBootloader: true },
        },
        undefined,
        { timeout: 120_000 },
      );
      expect(forward.structuredContent).toMatchObject({ status: "succeeded" });
      expect(activationEnvironments(fleet, "p510")[0]).toBe(
        `${await currentSystem(fleet, "p510")} switch NIXOS_INSTALL_BOOTLOADER=1 ${LOCALE_ARCHIVE}`,
      );
    });

    it.runIf(systemd)(
      "a transient unit gets nothing from the session: the supervisor fails unless its environment is passed",
      async () => {
        const nonce = "20260101-000000-bare00-p620-000000000000";
        const current = await currentSystem(fleet, "p620");
        const generations = await generationsOf(fleet, "p620");
        // The supervisor started as the launcher starts it, but without the environment it passes.
        const start = remoteCommandLine([
          "systemd-run",
          `--unit=nix-deploy-${nonce}`,
          "--collect",
          "--no-ask-password",
          "--quiet",
          "--service-type=exec",
          "--",
          "sh",
          "-c",
          hostScript("watchdog"),
          "nix-deploy-watchdog",
          "/nix/var/nix/profiles/system",
          current,
          "switch",
          nonce,
          "5",
          current,
          "",
          "600",
          "",
        ]);
        const dir = `/run/nix-deploy/${nonce}`;
        const launched = await fleet.onHost(
          "p620",
          `mkdir -p -m 0700 ${dir} && mkfifo ${dir}/wake && ${start}`,
        );
        expect(launched.exitCode, launched.stderr).toBe(0);
        const journal = join(
          fleet.runDir("p620"),
          "nix-deploy-sim",
          "journal",
          `nix-deploy-${nonce}.service`,
        );
        await waitFor(() => /Deactivated|Failed with result/.test(readFileSync(journal, "utf8")), 60_000);
        const runDir = join(fleet.runDir("p620"), "nix-deploy", nonce);
        // bash (the hosts' sh, as NixOS's) says "command not found", dash "not found".
        expect(readFileSync(join(runDir, "activation.log"), "utf8")).toMatch(/nix-env: (command )?not found/);
        expect(readFileSync(journal, "utf8")).toMatch(/mv: (command )?not found/);
        // It could neither activate nor even record a verdict.
        expect(existsSync(join(runDir, "result"))).toBe(false);
        expect(await generationsOf(fleet, "p620")).toEqual(generations);
        rmSync(runDir, { recursive: true, force: true });

        // Started by a deployment, with the environment passed, the same supervisor does its work.
        fleet.editHost("p620", (t) => t.replace('packages = [ "', 'packages = [ "nginx" "'));
        await fleet.commit("nginx on p620");
        const result = await deployVia(server, { hosts: ["p620"] });
        expect(result.hosts[0]?.outcome).toBe("deployed");
        expect(recordOf(fleet, result.deploymentId).hosts.p620.supervisor).toBe("systemd-run");
      },
    );

    it("rolls back an activation that exits non-zero, at once", async () => {
      const before = await currentSystem(fleet, "samsung");
      fleet.editHost("samsung", (text) => text.replace("fail = false;", "fail = true;"));
      await fleet.commit("break samsung's activation");
      const started = Date.now();
      const result = await deployVia(server, { hosts: ["samsung"], confirmTimeoutSec: 60 });
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(result.status).toBe("failed");
      expect(result.hosts[0]?.outcome).toBe("rolled-back");
      expect(result.hosts[0]?.error).toMatch(
        /^rolled back: activation exited with status 1; back on generation 1$/,
      );
      expect(await currentSystem(fleet, "samsung")).toBe(before);
    });

    it("rolls back when a service is left failed, naming the unit", async () => {
      const before = await currentSystem(fleet, "p510");
      fleet.editHost("p510", (text) =>
        text.replace("failedUnits = [ ];", 'failedUnits = [ "postgresql.service" ];'),
      );
      await fleet.commit("postgresql fails on p510");
      const result = await deployVia(server, { hosts: ["p510"] });
      const p510 = result.hosts[0];
      expect(p510?.outcome).toBe("rolled-back");
      expect(p510?.error).toMatch(/postgresql\.service/);
      expect(p510?.logs?.["postgresql.service"]?.join("\n")).toMatch(/Failed with result 'exit-code'/);
      expect(await currentSystem(fleet, "p510")).toBe(before);
      expect((await fleet.onHost("p510", "systemctl is-system-running")).stdout.trim()).toBe("running");
    });

    it("names the failed health check as the reason, whether the deployer or the host's own timer acted first", async () => {
      const inventoryFile = join(fleet.flakeDir, "nix-deploy.json");
      const inventory = JSON.parse(readFileSync(inventoryFile, "utf8"));
      // nginx first: the slow host below reads each service's state, then takes its time to answer.
      inventory.hosts.p510.criticalServices = ["nginx.service", "sshd.service"];
      writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2));
      // nginx starts, so the activation succeeds, then crashes: only the health check finds it.
      fleet.editHost("p510", (text) =>
        text.replace(
          'failedUnits = [ "postgresql.service" ];',
          'failedUnits = [ ]; crashingUnits = [ "nginx.service" ];',
        ),
      );
      await fleet.commit("nginx crashes on p510, and is critical there");
      const verdict = "critical service not active: nginx.service (failed)";

      const first = await deployVia(server, { hosts: ["p510"] });
      expect(first.hosts[0]?.outcome).toBe("rolled-back");
      expect(first.hosts[0]?.error).toMatch(
        new RegExp(`^rolled back: ${escape(verdict)}; back on generation \\d+$`),
      );
      expect(first.hosts[0]?.logs?.["nginx.service"]?.join("\n")).toMatch(/Failed with result 'exit-code'/);
      // The deployer's request came first: the host reverted for that reason.
      const firstDir = supervisorDir(fleet, "p510", first.deploymentId);
      expect(readFileSync(join(firstDir, "rollback-reason"), "utf8").trim()).toBe(verdict);
      // The report says the same.
      const report = await server.client.readResource({ uri: `nix-deploy://reports/${first.deploymentId}` });
      expect(JSON.stringify(report.contents)).toContain(
        JSON.stringify(`**What failed:** ${first.hosts[0]?.error}`).slice(1, -1),
      );

      // A slow health check and a short window: the host's own timer reverts it first.
      fleet.editHost("p510", (text) =>
        text.replace(
          'crashingUnits = [ "nginx.service" ];',
          'crashingUnits = [ "nginx.service" ]; slowSystemctlSeconds = 4;',
        ),
      );
      await fleet.commit("p510 answers slowly");
      const second = await deployVia(server, { hosts: ["p510"], confirmTimeoutSec: 2 });
      const secondDir = supervisorDir(fleet, "p510", second.deploymentId);
      expect(readFileSync(join(secondDir, "rollback-reason"), "utf8").trim()).toBe(
        "no confirmation within 2s",
      );
      expect(second.hosts[0]?.outcome).toBe("rolled-back");
      expect(second.hosts[0]?.error).toMatch(
        new RegExp(
          `^rolled back: ${escape(verdict)}; the host had already reverted by itself \\(no confirmation within 2s\\); back on generation \\d+$`,
        ),
      );

      fleet.editHost("p510", (text) =>
        text.replace('crashingUnits = [ "nginx.service" ]; slowSystemctlSeconds = 4;', ""),
      );
      await fleet.commit("p510 healthy again");
    });

    it("holds the new system for the whole window when nobody can confirm, then reverts by itself", async () => {
      const window = 10;
      const before = await currentSystem(fleet, "razer");
      fleet.editHost("razer", (text) =>
        text.replace("activation = { fail = false;", "activation = { delaySeconds = 2; fail = false;"),
      );
      await fleet.commit("slow activation on razer");
      const runDir = join(fleet.runDir("razer"), "nix-deploy");
      const known = newRuns(runDir, []);
      const pending = deployVia(server, { hosts: ["razer"], confirmTimeoutSec: window });
      // Stop sshd while the activation runs: no new login can confirm; the supervisor must revert alone.
      await waitFor(() => activationStarted(runDir, known), 60_000);
      await fleet.stopHost("razer");
      await waitFor(() => supervisorResult(runDir, known) === "rolled-back", 60_000);
      await fleet.startHost("razer");
      const result = await pending;
      const razer = result.hosts[0];
      expect(razer).toMatchObject({ outcome: "rolled-back", connectionLost: true });
      expect(razer?.error).toMatch(
        new RegExp(
          `^connection lost after activation; rolled back: no confirmation within ${window}s; back on generation 1$`,
        ),
      );
      expect(await currentSystem(fleet, "razer")).toBe(before);
      // Measured on the host, by its clock: from the switch to the new system to the switch back.
      const switches = fleet.switches("razer");
      const to = switches.findLastIndex((s) => s.system === razer?.newSystem);
      const back = switches[to + 1];
      expect(back?.system).toBe(before);
      const held = (back?.atSec as number) - (switches[to]?.atSec as number);
      expect(held).toBeGreaterThanOrEqual(window);
      expect(held).toBeLessThanOrEqual(window + 3);
    });

    it("a launch that fails leaves nothing for a later deployment to wait on", async () => {
      // What starts the supervisor fails: systemd-run cannot reach the manager, or setsid cannot run.
      const program = systemd ? "systemd-run" : "setsid";
      const shim = join(fleet.hosts.get("samsung")?.dir as string, "bin", program);
      const original = existsSync(shim) ? readFileSync(shim) : undefined;
      writeFileSync(
        shim,
        "#!/bin/sh\necho 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n",
        {
          mode: 0o755,
        },
      );
      const generations = await generationsOf(fleet, "samsung");
      fleet.editHost("samsung", (text) =>
        text.replace("fail = true;", "fail = false;").replace('packages = [ "', 'packages = [ "nginx" "'),
      );
      await fleet.commit("samsung activates again");
      let failed: DeployResult;
      try {
        failed = await deployVia(server, { hosts: ["samsung"] });
      } finally {
        if (original) writeFileSync(shim, original, { mode: 0o755 });
        else rmSync(shim);
      }
      expect(failed.hosts[0]?.outcome).toBe("failed");
      expect(failed.hosts[0]?.error).toMatch(
        systemd
          ? /^could not start the activation: Failed to connect to bus/
          : /^the supervisor on the host stopped without a verdict/,
      );
      // Nothing changed on the host, not even its profile.
      expect(await generationsOf(fleet, "samsung")).toEqual(generations);
      const failedDir = supervisorDir(fleet, "samsung", failed.deploymentId);
      // The launcher recorded that it started nothing; a supervisor that died did not get to.
      if (systemd) expect(readFileSync(join(failedDir, "result"), "utf8").trim()).toBe("not-started");

      const again = await deployVia(server, { hosts: ["samsung"] });
      expect(again.hosts[0]?.outcome).toBe("deployed");
      const notes = again.hosts[0]?.notes ?? [];
      expect(notes.filter((n) => n.startsWith("waited for"))).toEqual([]);
      if (!systemd)
        expect(notes).toContain(
          `removed the state of activations whose supervisor had gone without a verdict (${failedDir.split("/").at(-1)})`,
        );
    });

    it("resumes a deployment whose deployer was killed, without repeating finished hosts, as it was asked", async () => {
      for (const host of ["p620", "p510", "razer"])
        fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "postgresql" "'));
      // Long enough for p510 and razer to finish while p620 activates, also on a loaded machine.
      fleet.editHost("p620", (t) =>
        t.replace("activation = { fail = false;", "activation = { delaySeconds = 15; fail = false;"),
      );
      await fleet.commit("postgresql everywhere; slow p620");
      const p620Runs = join(fleet.runDir("p620"), "nix-deploy");
      const known = newRuns(p620Runs, []);
      const generationsBefore = {
        p510: await generationsOf(fleet, "p510"),
        razer: await generationsOf(fleet, "razer"),
      };

      const doomed = await startServer();
      const pending = doomed.client
        .callTool(
          {
            name: "deploy",
            arguments: { hosts: ["p620", "p510", "razer"], confirmTimeoutSec: 10, installBootloader: true },
          },
          undefined,
          { timeout: 300_000 },
        )
        .catch(() => undefined);
      const deployments = join(fleet.env.XDG_STATE_HOME as string, "nix-deploy", "deployments");
      // Kill the deployer once p510 and razer are done and p620 is still activating, before its
      // supervisor has an activation status (so before any health check or confirmation).
      await waitFor(
        () => {
          const p620Activating = newRuns(p620Runs, known).some(
            (d) => !existsSync(join(p620Runs, d, "activation-status")),
          );
          return (
            p620Activating &&
            readdirSync(deployments).some((f) => {
              if (!f.endsWith(".json")) return false;
              const record = JSON.parse(readFileSync(join(deployments, f), "utf8"));
              return (
                record.status === "running" &&
                record.hosts.p510?.outcome === "deployed" &&
                record.hosts.razer?.outcome === "deployed" &&
                record.hosts.p620?.outcome === "pending"
              );
            })
          );
        },
        120_000,
        () =>
          readdirSync(deployments)
            .map((f) => readFileSync(join(deployments, f), "utf8"))
            .join("\n"),
      );
      process.kill(doomed.pid as number, "SIGKILL");
      void pending;
      // Gone once reaped: until then its pid still answers, and the deployment counts as running.
      await waitFor(() => {
        try {
          process.kill(doomed.pid as number, 0);
          return false;
        } catch {
          return true;
        }
      }, 30_000);

      const resumed = await deployVia(server, { resume: "latest" });
      expect(resumed.status).toBe("succeeded");
      const byHost = Object.fromEntries(resumed.hosts.map((h) => [h.host, h]));
      expect(byHost.p510).toMatchObject({ outcome: "deployed", finishedEarlier: true });
      expect(byHost.razer).toMatchObject({ outcome: "deployed", finishedEarlier: true });
      expect(byHost.p620?.outcome).toBe("deployed");
      expect(byHost.p620?.finishedEarlier).toBeFalsy();
      // Finished hosts got exactly one new generation, not a second one from the resumed run.
      expect(await generationsOf(fleet, "p510")).toEqual([
        ...generationsBefore.p510,
        Math.max(...generationsBefore.p510) + 1,
      ]);
      expect(await generationsOf(fleet, "razer")).toEqual([
        ...generationsBefore.razer,
        Math.max(...generationsBefore.razer) + 1,
      ]);
      expect(await currentSystem(fleet, "p620")).toBe(byHost.p620?.newSystem);
      // The resumed run activated p620 as the deployment asked: with the boot loader.
      expect(activationEnvironments(fleet, "p620")[0]).toBe(
        `${byHost.p620?.newSystem} switch NIXOS_INSTALL_BOOTLOADER=1 ${LOCALE_ARCHIVE}`,
      );
    }, 300_000);
  },
);
