import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";

const LOCK_MODULE = join(import.meta.dirname, "..", "..", "src", "engine", "deploy", "host-lock.ts");

/**
 * A deployer in its own process: it takes the host lock the moment `go` appears, prints whether it
 * got it, and stays alive (holding it, if it won) until `done` appears.
 */
const CONTENDER = `
const [lockModule, stateHome, id, go, done] = process.argv.slice(1);
const { existsSync } = await import("node:fs");
const { acquireHostLock } = await import(lockModule);
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
console.log("ready");
while (!existsSync(go)) nap(1);
try {
  acquireHostLock("razer", id, { XDG_STATE_HOME: stateHome });
  console.log("won");
} catch (error) {
  console.log("lost " + error.message.split("\\n")[0]);
}
while (!existsSync(done)) nap(20);
`;

/** A pid that no process has any more. */
function deadPid(): number {
  const gone = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(gone.stdout.trim());
}

describe("host deploy lock", () => {
  let root: string;
  let locks: string;
  let children: ChildProcess[];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "nix-deploy-lock-"));
    locks = join(root, "state", "nix-deploy", "locks");
    mkdirSync(locks, { recursive: true });
    children = [];
  });
  afterEach(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });

  /** Starts deployers that all take the lock at once; resolves with what each printed. */
  async function race(count: number): Promise<Map<string, string>> {
    const go = join(root, "go");
    const done = join(root, "done");
    const outputs = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const id = `20260102-000000-live0${i}`;
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "--input-type=module",
          "-e",
          CONTENDER,
          LOCK_MODULE,
          join(root, "state"),
          id,
          go,
          done,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      children.push(child);
      outputs.set(id, "");
      child.stdout?.on("data", (chunk: Buffer) => outputs.set(id, outputs.get(id) + chunk.toString()));
    }
    await waitFor(() => [...outputs.values()].every((o) => o.includes("ready")), 60_000);
    writeFileSync(go, "");
    await waitFor(
      () => [...outputs.values()].every((o) => /\n(won|lost .*)\n/.test(o)),
      60_000,
      () => [...outputs.entries()].map(([id, o]) => `${id}: ${o}`).join("\n"),
    );
    writeFileSync(done, "");
    return new Map([...outputs.entries()].map(([id, o]) => [id, o.replace("ready\n", "").trim()]));
  }

  it("lets exactly one of several deployers take over the lock of a dead one", async () => {
    const dead = { deploymentId: "20260101-000000-dead00", pid: deadPid(), since: "2026-01-01T00:00:00Z" };
    writeFileSync(join(locks, "razer.lock"), JSON.stringify(dead));
    const results = await race(6);
    const winners = [...results.entries()].filter(([, r]) => r === "won").map(([id]) => id);
    expect(winners, JSON.stringify([...results])).toHaveLength(1);
    const winner = winners[0] as string;
    for (const [id, result] of results) {
      if (id !== winner) expect(result).toMatch(`lost razer is being deployed by deployment ${winner} (pid `);
    }
    expect(JSON.parse(readFileSync(join(locks, "razer.lock"), "utf8")).deploymentId).toBe(winner);
    // Nothing of the takeover is left behind but the lock.
    expect(readdirSync(locks)).toEqual(["razer.lock"]);
  });

  it("is taken over also when a deployer died in the middle of taking it over", async () => {
    const dead = JSON.stringify({
      deploymentId: "20260101-000000-dead00",
      pid: deadPid(),
      since: "2026-01-01T00:00:00Z",
    });
    writeFileSync(join(locks, "razer.lock"), dead);
    // The claim a deployer leaves when it dies between claiming the dead lock and replacing it.
    const digest = createHash("sha256").update(dead).digest("hex").slice(0, 16);
    writeFileSync(join(locks, `razer.lock.takeover-${digest}`), String(deadPid()));
    const results = await race(4);
    expect([...results.values()].filter((r) => r === "won")).toHaveLength(1);
    expect(existsSync(join(locks, `razer.lock.takeover-${digest}`))).toBe(false);
    expect(readdirSync(locks)).toEqual(["razer.lock"]);
  });
});
