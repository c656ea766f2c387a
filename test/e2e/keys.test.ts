/**
 * Keys end to end on the simulated fleet, through the MCP server and the CLI: each source kind
 * arrives with its content, mode and owner; post-activation keys only after a confirmed
 * activation; a failed activation keeps the pre-activation key and rolls back; a wrong user or
 * group stops the host before activation; and the secret (a unique marker) appears in no log,
 * state file, report, result or progress message, nor in any process's arguments.
 */

import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/schemas.js";
import type { UploadKeysResult } from "../../src/engine/keys/schemas.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { connectStdio, type StdioServer, textOf } from "./client.js";

const skip = skipFleetReason();
const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const MARKER = `nxd-secret-${randomUUID()}`;
const nobody = spawnSync("getent", ["passwd", "nobody"], { encoding: "utf8" }).stdout.split(":");
const NOGROUP = spawnSync("getent", ["group", nobody[3] ?? "65534"], { encoding: "utf8" }).stdout.split(
  ":",
)[0];

describe.skipIf(skip)("keys: secrets uploaded at deploy time, never in the store or a log", () => {
  let fleet: SimFleet;
  let server: StdioServer;
  let inventoryFile: string;
  let inventory: { hosts: Record<string, { keys?: Record<string, Record<string, unknown>> }> };
  /** Everything nix-deploy said: tool results, progress messages, reports, CLI output. */
  const said: string[] = [];
  const deployments: string[] = [];
  const env = () => ({ ...fleet.env, NIX_DEPLOY_INVENTORY: inventoryFile });
  const saveInventory = () => writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2));
  const keyFile = (host: string, path: string) => join(fleet.runDir(host), path.replace(/^\/run\//, ""));

  async function call<T>(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ result: T; error?: string }> {
    const result = await server.client.callTool({ name, arguments: args }, undefined, {
      timeout: 300_000,
      onprogress: (p) => said.push(p.message ?? ""),
    });
    said.push(JSON.stringify(result));
    if (result.isError) return { result: undefined as T, error: textOf(result) };
    const structured = result.structuredContent as T & { deploymentId?: string };
    if (structured.deploymentId) deployments.push(structured.deploymentId);
    return { result: structured };
  }

  async function currentSystem(host: string): Promise<string> {
    return (await fleet.onHost(host, "readlink /run/current-system")).stdout.trim();
  }

  function phasesOf(deploymentId: string, host: string): string[] {
    const file = join(
      fleet.env.XDG_STATE_HOME as string,
      "nix-deploy",
      "deployments",
      `${deploymentId}.json`,
    );
    return JSON.parse(readFileSync(file, "utf8")).hosts[host].phases.map((p: { name: string }) => p.name);
  }

  beforeAll(async () => {
    fleet = await startFleet({ hosts: ["razer", "samsung"] });
    const ssh = join(fleet.env.HOME as string, ".ssh");
    writeFileSync(
      join(ssh, "tls.key"),
      Buffer.concat([Buffer.from(`${MARKER}-file\n`), Buffer.from([0, 255])]),
    );
    writeFileSync(join(ssh, "db.src"), `${MARKER}-command`);
    // The inventory with keys lives outside the flake (--inventory), so no copy of the flake in
    // the Nix store holds a key's text.
    const privateDir = join(fleet.dir, "private");
    mkdirSync(privateDir, { mode: 0o700 });
    inventoryFile = join(privateDir, "nix-deploy.json");
    inventory = JSON.parse(readFileSync(join(fleet.flakeDir, "nix-deploy.json"), "utf8"));
    (inventory.hosts.razer as { keys?: unknown }).keys = {
      "api-token": { text: `${MARKER}-text`, user: "nobody", group: NOGROUP, permissions: "0640" },
      "tls.key": { keyFile: join(ssh, "tls.key"), destDir: "/run/keys/tls", permissions: "0400" },
      "db-password": { keyCommand: ["sh", "-c", 'sleep 0.2; cat "$1"', "key-command", join(ssh, "db.src")] },
      "post-token": { text: `${MARKER}-post`, uploadAt: "post-activation" },
    };
    (inventory.hosts.samsung as { keys?: unknown }).keys = {
      pre: { text: `${MARKER}-samsung-pre` },
      post: { text: `${MARKER}-samsung-post`, uploadAt: "post-activation" },
    };
    saveInventory();
    server = await connectStdio(["--flake", fleet.flakeDir], env());
  });
  afterAll(async () => {
    await server?.close();
    await fleet?.stop();
  });

  it("uploads each kind of key before activation and post-activation keys after the confirmation, no secret in any process's arguments", async () => {
    fleet.editHost("razer", (t) => t.replace('packages = [ "', 'packages = [ "grafana" "'));
    await fleet.commit("grafana on razer");
    // A slow getent on the host keeps each upload running for a while, so that the sampling
    // below sees the upload's processes (and would see a secret in their arguments).
    const getent = join(fleet.hosts.get("razer")?.dir as string, "bin", "getent");
    writeFileSync(getent, '#!/bin/sh\nsleep 0.4\nexec /usr/bin/getent "$@"\n');
    chmodSync(getent, 0o755);
    const leaks: string[] = [];
    let uploadsSeen = 0;
    const sampler = setInterval(() => {
      for (const pid of readdirSync("/proc")) {
        if (!/^\d+$/.test(pid)) continue;
        let argv: string;
        try {
          argv = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
          continue;
        }
        if (argv.includes(MARKER)) leaks.push(argv.replaceAll("\0", " "));
        if (argv.includes("nix-deploy-upload-key")) uploadsSeen++;
      }
    }, 20);
    let deployed: DeployResult;
    try {
      deployed = (await call<DeployResult>("deploy", { hosts: ["razer"] })).result;
    } finally {
      clearInterval(sampler);
      rmSync(getent);
    }
    expect(deployed.hosts[0]?.error).toBeUndefined();
    expect(deployed.hosts[0]?.outcome).toBe("deployed");
    expect(uploadsSeen).toBeGreaterThan(0);
    expect(leaks).toEqual([]);

    expect(deployed.hosts[0]?.keys).toEqual([
      {
        name: "api-token",
        destination: "/run/keys/api-token",
        mode: "0640",
        owner: `nobody:${NOGROUP}`,
        size: `${MARKER}-text`.length,
        uploadAt: "pre-activation",
      },
      expect.objectContaining({ name: "tls.key", destination: "/run/keys/tls/tls.key", mode: "0400" }),
      expect.objectContaining({ name: "db-password", owner: "root:root", mode: "0600" }),
      expect.objectContaining({ name: "post-token", uploadAt: "post-activation" }),
    ]);
    const token = statSync(keyFile("razer", "/run/keys/api-token"));
    expect([token.mode & 0o7777, token.uid, token.gid]).toEqual([
      0o640,
      Number(nobody[2]),
      Number(nobody[3]),
    ]);
    expect(readFileSync(keyFile("razer", "/run/keys/api-token"), "utf8")).toBe(`${MARKER}-text`);
    expect(readFileSync(keyFile("razer", "/run/keys/tls/tls.key"))).toEqual(
      readFileSync(join(fleet.env.HOME as string, ".ssh", "tls.key")),
    );
    expect(statSync(keyFile("razer", "/run/keys/tls/tls.key")).mode & 0o7777).toBe(0o400);
    expect(statSync(keyFile("razer", "/run/keys/tls")).mode & 0o777).toBe(0o750);
    expect(readFileSync(keyFile("razer", "/run/keys/db-password"), "utf8")).toBe(`${MARKER}-command`);
    expect(statSync(keyFile("razer", "/run/keys/db-password")).mode & 0o7777).toBe(0o600);
    expect(readFileSync(keyFile("razer", "/run/keys/post-token"), "utf8")).toBe(`${MARKER}-post`);

    // Pre-activation keys before the activation, post-activation keys after its confirmation.
    const phases = phasesOf(deployed.deploymentId, "razer");
    expect(phases.indexOf("keys (pre-activation)")).toBeLessThan(phases.indexOf("activate"));
    expect(phases.indexOf("keys (post-activation)")).toBeGreaterThan(phases.indexOf("activate"));
    const progress = said.filter((m) => m.startsWith("razer: "));
    const checked = progress.findIndex((m) => m.startsWith("razer: checking health"));
    expect(progress.findIndex((m) => m.includes("uploading key api-token"))).toBeLessThan(
      progress.findIndex((m) => m.startsWith("razer: activating")),
    );
    expect(progress.findIndex((m) => m.includes("uploading key post-token"))).toBeGreaterThan(checked);
    expect(checked).toBeGreaterThan(-1);
  });

  it("keeps the pre-activation key when the activation fails, rolls back, and uploads no post-activation key", async () => {
    const before = await currentSystem("samsung");
    fleet.editHost("samsung", (t) => t.replace("fail = false;", "fail = true;"));
    await fleet.commit("samsung's activation fails");
    const { result } = await call<DeployResult>("deploy", { hosts: ["samsung"] });
    expect(result.hosts[0]?.outcome).toBe("rolled-back");
    expect(await currentSystem("samsung")).toBe(before);
    expect(readFileSync(keyFile("samsung", "/run/keys/pre"), "utf8")).toBe(`${MARKER}-samsung-pre`);
    expect(existsSync(keyFile("samsung", "/run/keys/post"))).toBe(false);
    expect(phasesOf(result.deploymentId, "samsung")).not.toContain("keys (post-activation)");
  });

  it("fails the host before activation when a key's user or group does not exist, naming it", async () => {
    const keys = inventory.hosts.razer?.keys as Record<string, Record<string, unknown>>;
    (keys["api-token"] as Record<string, unknown>).user = "no-such-user-xyz";
    saveInventory();
    fleet.editHost("razer", (t) => t.replace('packages = [ "', 'packages = [ "nginx" "'));
    await fleet.commit("nginx on razer");
    const before = await currentSystem("razer");
    const { result } = await call<DeployResult>("deploy", { hosts: ["razer"] });
    expect(result.hosts[0]?.outcome).toBe("failed");
    expect(result.hosts[0]?.error).toContain(
      "key api-token (hosts.razer.keys.api-token): the user no-such-user-xyz does not exist on razer; nothing was written",
    );
    expect(phasesOf(result.deploymentId, "razer")).not.toContain("activate");
    expect(await currentSystem("razer")).toBe(before);

    (keys["api-token"] as Record<string, unknown>).user = "nobody";
    (keys["api-token"] as Record<string, unknown>).group = "no-such-group-xyz";
    saveInventory();
    const group = await call<UploadKeysResult>("upload_keys", { hosts: ["razer"], keys: ["api-token"] });
    expect(group.result.hosts[0]?.outcome).toBe("failed");
    expect(group.result.hosts[0]?.error).toContain("the group no-such-group-xyz does not exist on razer");
    (keys["api-token"] as Record<string, unknown>).group = NOGROUP;
    saveInventory();
  });

  it("upload_keys.hosts, keys: rotates only the named keys of the selected hosts, and refuses unknown ones", async () => {
    writeFileSync(join(fleet.env.HOME as string, ".ssh", "db.src"), `${MARKER}-rotated`);
    const untouched = statSync(keyFile("razer", "/run/keys/api-token")).mtimeMs;
    const { result } = await call<UploadKeysResult>("upload_keys", {
      hosts: ["@laptop"],
      keys: ["db-password"],
    });
    expect(result.status).toBe("succeeded");
    expect(result.hosts.map((h) => [h.host, h.outcome, h.keys.map((k) => k.name)])).toEqual([
      ["razer", "uploaded", ["db-password"]],
      ["samsung", "no keys", []],
    ]);
    expect(readFileSync(keyFile("razer", "/run/keys/db-password"), "utf8")).toBe(`${MARKER}-rotated`);
    expect(statSync(keyFile("razer", "/run/keys/api-token")).mtimeMs).toBe(untouched);
    const unknown = await call("upload_keys", { hosts: ["razer"], keys: ["nope"] });
    expect(unknown.error).toContain('unknown key "nope" for razer');
    expect(unknown.error).toContain("the keys these hosts have: api-token, db-password, post-token, tls.key");
  });

  it("the CLI's upload-keys shows what arrived, never the content", async () => {
    const cli = (args: string[]) =>
      execa(process.execPath, [CLI, "--flake", fleet.flakeDir, ...args], {
        env: { ...process.env, ...env() },
        reject: false,
        timeout: 120_000,
      });
    const run = await cli(["upload-keys", "razer", "--key", "api-token", "--yes"]);
    said.push(run.stdout, run.stderr);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `razer    |   key api-token → /run/keys/api-token (0640 nobody:${NOGROUP}, ${`${MARKER}-text`.length} bytes)`,
    );
    const unknown = await cli(["upload-keys", "razer", "--key", "nope", "--yes"]);
    said.push(unknown.stdout, unknown.stderr);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain(
      "the keys these hosts have: api-token, db-password, post-token, tls.key",
    );
  });

  it("leaves keys alone on rollback", async () => {
    const path = keyFile("razer", "/run/keys/api-token");
    const before = statSync(path);
    const { result } = await call<{ status: string }>("rollback", { hosts: ["razer"] });
    expect(result.status).toBe("succeeded");
    const after = statSync(path);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it("preflight says sops-nix secrets need no upload, and finds the host key they decrypt with", async () => {
    const flakeNix = join(fleet.flakeDir, "flake.nix");
    writeFileSync(
      flakeNix,
      readFileSync(flakeNix, "utf8")
        .replace(
          "inputs.nixpkgs.url",
          `inputs.sops-nix.url = "git+file://${fleet.nixpkgsDir}";\n  inputs.nixpkgs.url`,
        )
        .replace("{ self, nixpkgs }", "{ self, nixpkgs, ... }"),
    );
    await execa("nix", ["flake", "lock"], { cwd: fleet.flakeDir, env: { ...process.env, ...fleet.env } });
    await fleet.commit("sops-nix");
    const { result } = await call<{
      flake: Array<{ check: string; detail: string }>;
      hosts: Array<{ checks: Array<{ check: string; status: string; detail: string }> }>;
    }>("preflight", { hosts: ["razer"] });
    expect(result.flake.find((c) => c.check === "secrets")?.detail).toContain(
      "the flake uses sops-nix: those secrets are decrypted on each host at activation with its ssh host key and need no upload",
    );
    expect(result.hosts[0]?.checks.find((c) => c.check === "host key")).toEqual({
      check: "host key",
      status: "pass",
      detail: "/etc/ssh/ssh_host_ed25519_key, which sops-nix decrypt with",
    });
  });

  it("writes the secret into no log, state file, report, tool result or progress message", async () => {
    for (const id of deployments) {
      for (const uri of [`nix-deploy://reports/${id}`, `nix-deploy://reports/${id}/json`]) {
        const { contents } = await server.client.readResource({ uri });
        said.push(JSON.stringify(contents));
      }
    }
    said.push(server.stderr());
    expect(deployments.length).toBeGreaterThan(2);
    expect(said.filter((text) => text.includes(MARKER))).toEqual([]);
    const files = [
      join(fleet.env.XDG_STATE_HOME as string),
      ...["razer", "samsung"].map((h) => join(fleet.runDir(h), "nix-deploy")),
    ].flatMap((dir) => filesUnder(dir));
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((file) => readFileSync(file).includes(MARKER))).toEqual([]);
    // The search would find it: the keys on the host do hold it.
    expect(readFileSync(keyFile("razer", "/run/keys/api-token")).includes(MARKER)).toBe(true);
  });
});

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}
