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
export function runCommand(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  return startCommand(file, args, { ...options, keepStdinOpen: false }).result;
}

/** A program still running: its output so far, more input for it, its result once it ends. */
export interface RunningCommand<Result = CommandResult> {
  /**
   * stdout up to and including the first line that is `marker` (the line itself left out), or
   * undefined when the program ended without printing it.
   */
  untilLine(marker: string): Promise<string | undefined>;
  /** Whether it has ended (its result is in). */
  readonly ended: boolean;
  /** Writes to its stdin, which stays open for more. */
  write(text: string): void;
  /** Closes its stdin: the program reads the end of its input. */
  end(): void;
  /**
   * Stops it (SIGTERM) in `ms` unless it ended by then; a later call replaces the earlier bound, and
   * no `ms` lifts it.
   */
  deadline(ms?: number): void;
  readonly result: Promise<Result>;
}

/** The same running program, its result read another way (a remote one's, an escalated one's). */
export function withResult<From, To>(
  running: RunningCommand<From>,
  map: (result: From) => To,
): RunningCommand<To> {
  return {
    get ended() {
      return running.ended;
    },
    untilLine: (marker) => running.untilLine(marker),
    write: (text) => running.write(text),
    end: () => running.end(),
    deadline: (ms) => running.deadline(ms),
    result: running.result.then(map),
  };
}

/**
 * Starts a program as runCommand does. With keepStdinOpen, `input` is written first and stdin stays
 * open for write() and end() (a conversation with the program); else stdin gets `input` and ends.
 * `timeoutMs` bounds the whole run; deadline() bounds what is left of it.
 */
export function startCommand(
  file: string,
  args: readonly string[],
  options: RunOptions & { keepStdinOpen?: boolean } = {},
): RunningCommand {
  const open = options.keepStdinOpen === true;
  // Imported on first use: the server answers tools/list before it ever runs a command.
  const child = import("execa").then(({ execa }) => {
    const subprocess = execa(file, args, {
      reject: false,
      stdin: options.input === undefined && !open ? "ignore" : "pipe",
      input: open ? undefined : options.input,
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
    if (open) {
      // A program that ends without reading all its input must not fail our write.
      subprocess.stdin?.on("error", () => {});
      if (options.input !== undefined) subprocess.stdin?.write(options.input);
      subprocess.stdout?.on("data", (chunk: Buffer | string) => {
        stdout += chunk.toString();
        wakeWaiters();
      });
    }
    // Wrapped: the subprocess is itself a promise, which a `then` would wait for.
    return { subprocess };
  });
  let stdout = "";
  let ended = false;
  let stoppedByDeadline = false;
  let timer: NodeJS.Timeout | undefined;
  const waiters: Array<() => void> = [];
  const wakeWaiters = () => {
    for (const wake of waiters.splice(0)) wake();
  };
  const result = child.then(async ({ subprocess }): Promise<CommandResult> => {
    const finished = await subprocess;
    ended = true;
    clearTimeout(timer);
    wakeWaiters();
    if (subprocess.pid !== undefined) running.delete(subprocess.pid);
    const timedOut = finished.timedOut === true || stoppedByDeadline;
    const exitCode = typeof finished.exitCode === "number" ? finished.exitCode : finished.failed ? 127 : 0;
    let stderr = typeof finished.stderr === "string" ? finished.stderr : "";
    if (finished.failed && finished.exitCode === undefined && !timedOut && !stderr) {
      stderr = finished.shortMessage ?? `could not run ${file}`;
    }
    return {
      command: [file, ...args].join(" "),
      exitCode,
      stdout: typeof finished.stdout === "string" ? finished.stdout : "",
      stderr,
      timedOut,
    };
  });
  return {
    get ended() {
      return ended;
    },
    async untilLine(marker) {
      while (true) {
        const at = `\n${stdout}`.indexOf(`\n${marker}\n`);
        if (at >= 0) return stdout.slice(0, at);
        if (ended) return undefined;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    write: (text) => void child.then(({ subprocess }) => subprocess.stdin?.write(text)),
    end: () => void child.then(({ subprocess }) => subprocess.stdin?.end()),
    deadline(ms) {
      clearTimeout(timer);
      if (ms === undefined || ended) return;
      timer = setTimeout(() => {
        stoppedByDeadline = true;
        void child.then(({ subprocess }) => subprocess.kill());
      }, ms);
    },
    result,
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
