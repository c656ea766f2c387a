import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeploymentRecord, DeploymentStore } from "../../src/engine/deploy/record.js";
import { connectStdio, type StdioServer } from "./client.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");

/**
 * One state directory, as a person has who deploys two projects from one machine: flake A's
 * deployment, then a newer one of flake B. Run against the built server and CLI, as a user runs them.
 */
describe("reports belong to the flake they deployed", () => {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-reports-"));
  const flakeA = join(dir, "project-a");
  const flakeB = join(dir, "project-b");
  const flakeC = join(dir, "project-c");
  const env = { XDG_STATE_HOME: join(dir, "state"), LOG_LEVEL: "warn" };
  let server: StdioServer;

  /** A finished deployment as the deploy pipeline records it, one host deployed. */
  const record = (id: string, flake: string, host: string, createdAt: string): DeploymentRecord => ({
    id,
    pid: process.pid,
    createdAt,
    updatedAt: createdAt,
    status: "succeeded",
    request: { flake, selectors: [host], mode: "fast", goal: "switch", dryRun: false, confirmTimeoutSec: 30 },
    hosts: { [host]: { outcome: "deployed", phases: [], generationBefore: 3, generationAfter: 4 } },
  });
  const idA = "20250101-100000-aaaaaa";
  const idB = "20250102-100000-bbbbbb";

  beforeAll(async () => {
    for (const flake of [flakeA, flakeB, flakeC]) mkdirSync(flake);
    const store = new DeploymentStore(env);
    store.save(record(idA, flakeA, "p620", "2025-01-01T10:00:00.000Z"));
    store.save(record(idB, flakeB, "razer", "2025-01-02T10:00:00.000Z"));
    server = await connectStdio(["--flake", flakeA], env);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = async (uri: string) =>
    String(((await server.client.readResource({ uri })).contents[0] as { text: string }).text);

  it("the latest report over MCP is this flake's, though another flake deployed since", async () => {
    const markdown = await read("nix-deploy://reports/latest");
    expect(markdown).toContain(idA);
    expect(markdown).toContain("## p620: ✅ deployed");
    expect(markdown).not.toContain(idB);
    expect(JSON.parse(await read("nix-deploy://reports/latest/json"))).toMatchObject({
      id: idA,
      flake: flakeA,
    });
  });

  it("lists this flake's deployments; every flake's only when asked, and any by id", async () => {
    expect(JSON.parse(await read("nix-deploy://reports")).map((r: { id: string }) => r.id)).toEqual([idA]);
    const { resources } = await server.client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toContain(`nix-deploy://reports/${idA}`);
    expect(uris).not.toContain(`nix-deploy://reports/${idB}`);
    expect(uris).toContain("nix-deploy://reports/all");
    expect(JSON.parse(await read("nix-deploy://reports/all"))).toEqual([
      expect.objectContaining({ id: idB, flake: flakeB, hosts: ["razer"] }),
      expect.objectContaining({ id: idA, flake: flakeA, hosts: ["p620"] }),
    ]);
    expect(await read(`nix-deploy://reports/${idB}`)).toContain("## razer: ✅ deployed");
  });

  it("`nix-deploy report latest` prints this flake's report; a flake never deployed says so", async () => {
    const cli = (args: string[]) =>
      execa(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, reject: false });
    const a = await cli(["report", "latest", "--flake", flakeA]);
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toContain(idA);
    expect(a.stdout).not.toContain(idB);
    const b = await cli(["report", "--flake", flakeB]);
    expect(b.stdout).toContain(idB);
    const c = await cli(["report", "latest", "--flake", flakeC]);
    expect(c.exitCode).not.toBe(0);
    expect(c.stderr).toContain(`no deployment of the flake ${flakeC} has run yet`);
    // What to do: the other flake's deployment is there, by id.
    expect(c.stderr).toContain(`${idB} (of ${flakeB})`);
    const byId = await cli(["report", idB, "--flake", flakeC]);
    expect(byId.exitCode).toBe(0);
    expect(byId.stdout).toContain("## razer: ✅ deployed");
  });
});
