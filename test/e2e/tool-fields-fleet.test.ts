/**
 * Tool input fields whose effect only a host can show, on the simulated fleet: each test passes a
 * field through the MCP server and looks at what changed on the host, on the command line the
 * server ran, or in git and GitHub.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeployResult } from "../../src/engine/deploy/pipeline.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { connectStdio, type StdioServer, textOf } from "./client.js";

const skip = skipFleetReason();

describe.skipIf(skip)("tool fields that only the hosts can show", () => {
  let fleet: SimFleet;
  let server: StdioServer;
  let wrapperDir: string;
  let nixLog: string;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: ["p620"] });
    // The server's `nix` is a wrapper that writes down its arguments and runs the real nix: the
    // command line nix-deploy built is observed, and everything it does still happens for real.
    wrapperDir = mkdtempSync(join(tmpdir(), "nix-deploy-nix-wrapper-"));
    nixLog = join(wrapperDir, "argv.log");
    const realNix = spawnSync("sh", ["-c", "command -v nix"], { encoding: "utf8" }).stdout.trim();
    writeFileSync(
      join(wrapperDir, "nix"),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${nixLog}'\nexec '${realNix}' "$@"\n`,
    );
    chmodSync(join(wrapperDir, "nix"), 0o755);
    server = await connectStdio(["--flake", fleet.flakeDir], {
      ...fleet.env,
      PATH: `${wrapperDir}:${process.env.PATH}`,
    });
  });

  afterAll(async () => {
    await server?.close();
    await fleet?.stop();
    if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
  });

  const call = async <T>(name: string, args: Record<string, unknown>): Promise<T> => {
    const result = await server.client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
    expect(result.isError, textOf(result)).toBeFalsy();
    return result.structuredContent as T;
  };
  /** The `nix copy --to` command lines the server ran so far, each as its arguments. */
  const copiesTo = () =>
    (existsSync(nixLog) ? readFileSync(nixLog, "utf8") : "")
      .split("\n")
      .map((line) => line.split(" "))
      .filter((args) => args.includes("copy") && args.includes("--to"));
  const currentSystem = async (host: string) =>
    (await fleet.onHost(host, "readlink /run/current-system")).stdout.trim();
  const addPackage = async (host: string, name: string) => {
    fleet.editHost(host, (text) => text.replace('packages = [ "', `packages = [ "${name}" "`));
    await fleet.commit(`${name} on ${host}`);
  };

  it("deploy.substituteOnDestination reaches nix copy, and a resumed deployment keeps it", async () => {
    await addPackage("p620", "nginx");
    // p620 does not answer: the deployment fails before any copy, and is resumed once it does.
    await fleet.stopHost("p620");
    let interrupted: DeployResult;
    try {
      interrupted = await call<DeployResult>("deploy", {
        hosts: ["p620"],
        mode: "fast",
        substituteOnDestination: true,
      });
    } finally {
      await fleet.startHost("p620");
    }
    expect(interrupted.hosts[0]).toMatchObject({ outcome: "failed" });
    expect(interrupted.hosts[0]?.error).toMatch(/p620 does not answer over ssh/);
    expect(copiesTo()).toEqual([]);

    // The resume does not repeat the option: the deployment's record carries it.
    const resumed = await call<DeployResult>("deploy", { resume: interrupted.deploymentId });
    expect(resumed.hosts[0]).toMatchObject({ host: "p620", outcome: "deployed" });
    expect(await currentSystem("p620")).toBe(resumed.hosts[0]?.newSystem);
    expect(copiesTo()).toHaveLength(1);
    expect(copiesTo()[0]).toContain("--substitute-on-destination");

    // Without the option, the copy is a plain one.
    await addPackage("p620", "grafana");
    const plain = await call<DeployResult>("deploy", { hosts: ["p620"], mode: "fast" });
    expect(plain.hosts[0]?.outcome).toBe("deployed");
    expect(copiesTo()).toHaveLength(2);
    expect(copiesTo()[1]).not.toContain("--substitute-on-destination");
    expect(copiesTo()[1]).toContain(`${plain.hosts[0]?.newSystem}`);
  });
});
