/**
 * Runs a host script locally, as the engine sends it (`sh -c SCRIPT PROGRAM ARGS...`), with stand-ins
 * for the host's commands (nix-env, systemctl...) first on PATH and, for the activation scripts, a
 * temporary directory as /run/nix-deploy (NIX_DEPLOY_RUN_DIR). No fleet, no root.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { RUN_DIR_VARIABLE } from "../../src/engine/host/protocol.js";
import { type HostScriptName, hostCommand } from "../../src/engine/host/scripts.js";

export interface ScriptRun {
  stdout: string;
  stderr: string;
  status: number | null;
}

/**
 * A scratch directory with `bin/` for stand-ins and `run/` for the activations' state, made fresh
 * for each test of the file that calls sandboxPerTest().
 */
export class ScriptSandbox {
  private scratch = "";
  private started: number[] = [];
  private groups: number[] = [];

  get dir(): string {
    if (!this.scratch) throw new Error("the sandbox is made before each test");
    return this.scratch;
  }
  get bin(): string {
    return join(this.dir, "bin");
  }
  get runDir(): string {
    return join(this.dir, "run");
  }

  open(): void {
    this.scratch = mkdtempSync(join(tmpdir(), "nix-deploy-host-script-"));
    mkdirSync(this.bin);
  }

  /** A stand-in command: a sh script run with the arguments it is given. */
  stub(name: string, body: string): void {
    const file = join(this.bin, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${this.bin}:${process.env.PATH}`,
      [RUN_DIR_VARIABLE]: this.runDir,
      ...extra,
    };
  }

  run(
    name: HostScriptName,
    program: string,
    args: readonly string[] = [],
    env?: NodeJS.ProcessEnv,
    input?: string,
  ): ScriptRun {
    const [command, ...rest] = hostCommand(name, program, args);
    const result = spawnSync(command as string, rest, {
      env: this.env(env),
      encoding: "utf8",
      timeout: 60_000,
      input,
    });
    return { stdout: result.stdout, stderr: result.stderr, status: result.status };
  }

  /**
   * Starts a script in the background, in a process group of its own, killed at cleanup with what
   * it started (a supervisor's timer outlives it by design). `done` is its exit: its output, when it
   * has some, must not wait for children that hold the pipe.
   */
  start(name: HostScriptName, program: string, args: readonly string[] = [], env?: NodeJS.ProcessEnv) {
    const [command, ...rest] = hostCommand(name, program, args);
    const child = spawn(command as string, rest, {
      env: this.env(env),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    if (child.pid !== undefined) this.groups.push(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const done = new Promise<ScriptRun>((resolve) =>
      child.on("exit", (status) => resolve({ stdout, stderr, status })),
    );
    return { pid: child.pid as number, done };
  }

  /** A process that runs until cleanup and whose command line holds `words` (as a supervisor's names its nonce). */
  sleeper(...words: string[]): number {
    const child = spawn("sh", ["-c", "sleep 300", "sleeper", ...words], { stdio: "ignore" });
    this.started.push(child.pid as number);
    return child.pid as number;
  }

  /** Remembers a pid to kill at cleanup (a supervisor started by a script). */
  track(pid: number): void {
    this.started.push(pid);
  }

  read(...path: string[]): string {
    return readFileSync(join(this.dir, ...path), "utf8");
  }

  cleanup(): void {
    for (const pid of [...this.groups.map((group) => -group), ...this.started]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.started = [];
    this.groups = [];
    rmSync(this.dir, { recursive: true, force: true });
    this.scratch = "";
  }
}

/** One sandbox for the tests of a file, made before and removed after each. */
export function sandboxPerTest(): ScriptSandbox {
  const box = new ScriptSandbox();
  beforeEach(() => box.open());
  afterEach(() => box.cleanup());
  return box;
}
