/** What a finished command left behind; a non-zero exit is a result, not an exception. */
export interface CommandResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Written to stdin: text, or bytes (a key file need not be text). */
  input?: string | Uint8Array;
  signal?: AbortSignal;
}

/** pids of the children still running, killed if nix-deploy exits before they end. */
const running = new Set<number>();
let exitWatched = false;
function watchExit(): void {
  if (exitWatched) return;
  exitWatched = true;
  process.once("exit", () => {
    for (const pid of running) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Runs a local program with an argument array: no shell ever sees the arguments.
 * Exit status, stdout and stderr are kept whatever happens.
 */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  // Imported on first use: the server answers tools/list before it ever runs a command.
  const { execa } = await import("execa");
  const subprocess = execa(file, args, {
    reject: false,
    stdin: options.input === undefined ? "ignore" : "pipe",
    input: options.input,
    timeout: options.timeoutMs,
    env: options.env,
    cwd: options.cwd,
    cancelSignal: options.signal,
    stripFinalNewline: false,
    // A long-running child must not keep our stdout: on the stdio server that is the protocol.
    stdout: "pipe",
    stderr: "pipe",
    // Its own process group: Ctrl-C at the terminal signals the terminal's foreground group, and
    // must reach only nix-deploy, which then lets the step in progress finish or cancels it itself
    // (an ssh killed mid-activation would look like a failed activation).
    detached: true,
  });
  // execa does not clean up detached children when we exit, so we do: nothing outlives nix-deploy.
  if (subprocess.pid !== undefined) running.add(subprocess.pid);
  watchExit();
  const result = await subprocess;
  if (subprocess.pid !== undefined) running.delete(subprocess.pid);
  const exitCode = typeof result.exitCode === "number" ? result.exitCode : result.failed ? 127 : 0;
  let stderr = typeof result.stderr === "string" ? result.stderr : "";
  if (result.failed && result.exitCode === undefined && !result.timedOut && !stderr) {
    stderr = result.shortMessage ?? `could not run ${file}`;
  }
  return {
    command: [file, ...args].join(" "),
    exitCode,
    stdout: typeof result.stdout === "string" ? result.stdout : "",
    stderr,
    timedOut: result.timedOut === true,
  };
}

/** Runs async work over items with at most `limit` at a time, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  });
  await Promise.all(workers);
  return results;
}

/** At most `limit` pieces of work at once; the others wait their turn in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      // The permit passes straight to the next in line, so the count stays right.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
