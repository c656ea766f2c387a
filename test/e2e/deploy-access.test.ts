/**
 * Real fleets' ways in: a login user with sudo whose sudo wants a password, a login user the host's
 * nix-daemon does not trust (and a signing key it does), the machine the deployer sits at (no ssh at
 * all), and a build host that copies straight to the target. End to end through the MCP client and
 * the CLI, on the simulated fleet.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PreflightResult } from "../../src/engine/deploy/preflight.js";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import type { PlanResult } from "../../src/engine/plan.js";
import { deployerNixKey, newSigningKey } from "../fleet/accounts.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { connectStdio, currentSystem, deployVia, type StdioServer } from "./client.js";

const skip = skipFleetReason();
const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
/** samsung's login user's password: its sudo has no NOPASSWD rule. */
const PASSWORD = "corr3ct-h0rse-battery";

async function preflightVia(server: StdioServer, host: string) {
  const result = await server.client.callTool(
    { name: "preflight", arguments: { hosts: [host] } },
    undefined,
    {
      timeout: 120_000,
    },
  );
  const checks = (result.structuredContent as PreflightResult).hosts[0]?.checks ?? [];
  return (name: string) => checks.find((c) => c.check === name);
}

describe.skipIf(skip)("deploy to hosts reached as a user other than root, and to this machine", () => {
  let fleet: SimFleet;
  let server: StdioServer;
  const servers: StdioServer[] = [];
  const keyDir = mkdtempSync(join(tmpdir(), "nix-deploy-signing-"));
  const key = newSigningKey(keyDir, "fleet-test-1");

  beforeAll(async () => {
    fleet = await startFleet({
      access: {
        razer: { login: "deploy", permitRootLogin: false },
        samsung: { login: "deploy", permitRootLogin: false, sudoPassword: PASSWORD },
        p510: { login: "deploy", trustedUsers: ["root"], trustedPublicKeys: [key.publicKey] },
        p620: { local: true },
      },
    });
    server = await connectStdio(["--flake", fleet.flakeDir], fleet.env);
    servers.push(server);
  });
  afterAll(async () => {
    for (const started of servers) await started.close();
    await fleet?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it("a sudo that wants a password fails at once with the remedy; --ask-sudo-password on a terminal deploys, and the password is nowhere", async () => {
    fleet.editHost("samsung", (t) => t.replace('packages = [ "', 'packages = [ "nginx" "'));
    await fleet.commit("nginx on samsung");
    const before = await currentSystem(fleet, "samsung");
    await deployVia(server, { hosts: ["samsung"], dryRun: true }); // builds it: the timing below is sudo's
    const started = Date.now();
    const refused = await deployVia(server, { hosts: ["samsung"] });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(refused.hosts[0]?.outcome).toBe("failed");
    expect(refused.hosts[0]?.error).toMatch(
      /^sudo on samsung wants a password for deploy, and nix-deploy never waits at a prompt \("sudo: a password is required"\)\nWhat to do: give deploy a NOPASSWD rule .* or deploy from a terminal with the CLI's --ask-sudo-password/,
    );
    expect(await currentSystem(fleet, "samsung")).toBe(before);
    const check = await preflightVia(server, "samsung");
    expect(check("root")).toMatchObject({ status: "fail", remedy: expect.stringMatching(/NOPASSWD/) });

    if (!hasScript) return;
    // script(1) gives the CLI a terminal; the password is typed once the prompt shows.
    const run = execa(
      "script",
      ["-qec", `${process.execPath} ${CLI} deploy samsung --yes --ask-sudo-password`, "/dev/null"],
      {
        env: { ...process.env, ...fleet.env, NIX_DEPLOY_FLAKE: fleet.flakeDir },
        reject: false,
        timeout: 180_000,
      },
    );
    let seen = "";
    run.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes("sudo password") && !seen.includes("@typed@")) {
        seen += "@typed@";
        run.stdin?.write(`${PASSWORD}\r`);
      }
    });
    const result = await run;
    expect(result.exitCode, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/samsung +\| deployed 1 → 2/);
    expect(await currentSystem(fleet, "samsung")).not.toBe(before);
    // Not echoed, not logged, not in a state file, record or report, not on the host.
    expect(result.stdout).not.toContain(PASSWORD);
    for (const dir of [fleet.env.XDG_STATE_HOME as string, fleet.runDir("samsung")]) {
      const grep = spawnSync("grep", ["-rlF", PASSWORD, dir]);
      expect(grep.status, `${dir}: ${grep.stdout}`).toBe(1);
    }
  });

  it("deploy.signingKey: an untrusted login user's copy is caught by preflight with the remedy; signed with a key the host trusts, it deploys", async () => {
    fleet.editHost("p510", (t) => t.replace('packages = [ "', 'packages = [ "firefox" "'));
    await fleet.commit("firefox on p510");
    const check = await preflightVia(server, "p510");
    expect(check("copy trust")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/^deploy is not in the host's trusted-users \(root\)/),
      remedy: expect.stringMatching(
        /add deploy to nix.settings.trusted-users; or sign the closure: set signingKey/,
      ),
    });
    const refused = await deployVia(server, { hosts: ["p510"] });
    expect(refused.hosts[0]?.outcome).toBe("failed");
    expect(refused.hosts[0]?.error).toMatch(
      /^p510 refused the system: deploy is not a trusted user of its nix-daemon, and the paths carry no signature it trusts\nWhat to do: on p510, add deploy to nix.settings.trusted-users; or sign/,
    );

    // The key where a secret key may be (never the flake), named by the inventory.
    const secret = deployerNixKey(fleet.env.HOME as string, key.secretFile, "signing-key");
    const deployed = await deployVia(server, { hosts: ["p510"], signingKey: secret });
    expect(deployed.hosts[0]).toMatchObject({ outcome: "deployed", generationAfter: 2 });
    expect(await currentSystem(fleet, "p510")).toBe(deployed.hosts[0]?.newSystem);

    // Named by the inventory instead, preflight finds the host trusts it.
    const inventoryFile = join(fleet.flakeDir, "nix-deploy.json");
    const inventory = JSON.parse(readFileSync(inventoryFile, "utf8"));
    inventory.hosts.p510.signingKey = secret;
    writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2));
    await fleet.commit("p510's copies are signed");
    expect((await preflightVia(server, "p510"))("copy trust")).toMatchObject({
      status: "pass",
      detail:
        "deploy is not a trusted user, but the closure is signed with fleet-test-1, which the host trusts",
    });
  });

  it("deploy.buildHost: deploys with a build host: built there, copied straight from there to the host, never built here", async () => {
    // A change no other test builds, so this machine's store cannot hold it from elsewhere.
    const mark = `${Date.now()}${process.pid}`;
    fleet.editHost("razer", (t) =>
      t.replace('Restart = "always";', `Restart = "always"; Environment = "MARK=${mark}";`),
    );
    await fleet.commit("razer marked");
    const result = await deployVia(server, { hosts: ["razer"], buildHost: "samsung" });
    const razer = result.hosts[0];
    expect(razer).toMatchObject({ outcome: "deployed", notes: ["copied from samsung straight to razer"] });
    expect(await currentSystem(fleet, "razer")).toBe(razer?.newSystem);
    const here = spawnSync("nix", ["path-info", razer?.newSystem as string], {
      env: { ...process.env, ...fleet.env },
    });
    expect(here.status, "the system is in this machine's store").not.toBe(0);

    // p510 takes only signed paths (its inventory names the key): they go through this machine,
    // which signs them, still without building them here.
    fleet.editHost("p510", (t) =>
      t.replace('Restart = "always";', `Restart = "always"; Environment = "MARK=${mark}";`),
    );
    await fleet.commit("p510 marked");
    const signed = await deployVia(server, { hosts: ["p510"], buildHost: "samsung" });
    expect(signed.hosts[0]).toMatchObject({
      outcome: "deployed",
      notes: ["copied from samsung to p510 through this machine"],
    });
    expect(await currentSystem(fleet, "p510")).toBe(signed.hosts[0]?.newSystem);
    const info = spawnSync("nix", ["path-info", "--json", signed.hosts[0]?.newSystem as string], {
      env: { ...process.env, ...fleet.env },
      encoding: "utf8",
    });
    // Copied in, not built here (a path built here is "ultimate"), and signed with the key.
    const copied = JSON.parse(info.stdout)[0];
    expect(copied.ultimate).toBeFalsy();
    expect(copied.signatures).toEqual([expect.stringMatching(/^fleet-test-1:/)]);
  });

  it("deploys this machine without ssh, under magic rollback, and rolls back a failed service", async () => {
    // The deployer runs inside p620, the machine it deploys; any ssh it started would be recorded.
    const spy = join(fleet.dir, "ssh-spy");
    mkdirSync(spy, { recursive: true });
    const calls = join(spy, "calls");
    writeFileSync(join(spy, "ssh"), `#!/bin/sh\necho "ssh $*" >> ${calls}\nexec /usr/bin/ssh "$@"\n`);
    chmodSync(join(spy, "ssh"), 0o755);
    const local = await connectStdio(
      ["--flake", fleet.flakeDir],
      { ...fleet.env, PATH: `${spy}:${process.env.PATH}` },
      { wrapper: fleet.inHost("p620") },
    );
    servers.push(local);
    // Named like this machine but not in the inventory, p620 is proposed as local, never assumed.
    const inventoryFile = join(fleet.flakeDir, "nix-deploy.json");
    const inventory = readFileSync(inventoryFile, "utf8");
    const { p620: _local, ...others } = JSON.parse(inventory).hosts;
    writeFileSync(inventoryFile, JSON.stringify({ ...JSON.parse(inventory), hosts: others }));
    const proposed = await local.client.callTool({ name: "plan", arguments: { request: "Deploy to p620" } });
    expect((proposed.structuredContent as PlanResult).proposals).toEqual([
      'p620 is this machine\'s hostname and has no inventory entry, so it would be reached over ssh as p620; to deploy this machine without ssh, ask the user to add "hosts": { "p620": { "local": true } } to nix-deploy.json',
    ]);
    writeFileSync(inventoryFile, inventory);

    // Marked local, "/nix-deploy Deploy to p620" runs: the plan, then deploy with its planId.
    const before = await currentSystem(fleet, "p620");
    fleet.editHost("p620", (t) => t.replace('packages = [ "', 'packages = [ "nginx" "'));
    await fleet.commit("nginx on p620");
    const plan = await local.client.callTool({ name: "plan", arguments: { request: "Deploy to p620" } });
    expect((plan.structuredContent as PlanResult).proposals).toBeUndefined();
    const deployed = await deployVia(local, { planId: (plan.structuredContent as PlanResult).planId });
    expect(deployed.hosts[0]).toMatchObject({
      outcome: "deployed",
      generationBefore: 1,
      generationAfter: 2,
      notes: ["this machine: confirmed by the health check passing (there is no new login to prove)"],
    });
    expect(await currentSystem(fleet, "p620")).toBe(deployed.hosts[0]?.newSystem);
    expect(await currentSystem(fleet, "p620")).not.toBe(before);

    fleet.editHost("p620", (t) => t.replace("failedUnits = [ ];", 'failedUnits = [ "grafana.service" ];'));
    await fleet.commit("grafana fails on p620");
    const failed = await deployVia(local, { hosts: ["p620"] });
    expect(failed.hosts[0]?.outcome).toBe("rolled-back");
    expect(failed.hosts[0]?.error).toMatch(/grafana\.service.*; back on generation 2$/);
    expect(await currentSystem(fleet, "p620")).toBe(deployed.hosts[0]?.newSystem);
    expect(existsSync(calls) ? readFileSync(calls, "utf8") : "").toBe("");
  });
});
