/**
 * `npm run fleet` (scripts/fleet.ts, after setup): the simulated fleet kept up for a person, the two
 * lines it prints, the CLI and the MCP server through the wrappers those lines name, and Ctrl-C,
 * after which nothing it started is left.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { skipFleetReason } from "../fleet/harness.js";
import { waitFor } from "../support/wait.js";

const skip = skipFleetReason();
const ROOT = join(import.meta.dirname, "..", "..");

/** pids of the processes whose command line names the directory (each host's unshare and sshd). */
function processesNaming(dir: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").includes(dir);
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

/** Whether something accepts connections on the port of 127.0.0.1. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe.skipIf(skip)("npm run fleet", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("keeps the fleet up, prints the CLI's and Claude Code's lines, and stops everything on Ctrl-C", async () => {
    let output = "";
    child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "fleet.ts")], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    await waitFor(
      () => output.includes("Ctrl-C stops the fleet."),
      300_000,
      () => output,
    );
    const bin = /export PATH=(\S+\/bin):\$PATH/.exec(output)?.[1] as string;
    expect(bin).toBeDefined();
    expect(output).toContain(`claude mcp add nix-deploy-fleet -- ${bin}/nix-deploy-mcp`);
    const ports = [...output.matchAll(/\(ssh port (\d+)\)/g)].map((m) => Number(m[1]));
    expect(ports).toHaveLength(4);

    // The README's first CLI line, as written once PATH holds the wrappers.
    const fleet = await execa("nix-deploy", ["fleet"], {
      env: { PATH: `${bin}:${process.env.PATH}` },
      reject: false,
    });
    expect(fleet.exitCode, fleet.stderr).toBe(0);
    expect(fleet.stdout).toContain("4 hosts, 4 answering");

    // The server Claude Code would start from the printed line.
    const client = new Client({ name: "nix-deploy-fleet-test", version: "0.0.0" });
    await client.connect(
      new StdioClientTransport({ command: join(bin, "nix-deploy-mcp"), args: [], stderr: "ignore" }),
    );
    try {
      const listed = await client.callTool({ name: "fleet_list", arguments: {} });
      expect((listed.structuredContent as { summary: string }).summary).toBe("4 hosts, 4 answering");
    } finally {
      await client.close();
    }

    const dir = join(bin, "..");
    expect(processesNaming(dir).length).toBeGreaterThan(0);
    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(output).toContain("Fleet stopped; every process it started is gone.");
    expect(existsSync(dir)).toBe(false);
    expect(processesNaming(dir)).toEqual([]);
    for (const port of ports) expect(await answers(port), `port ${port}`).toBe(false);
  });
});
