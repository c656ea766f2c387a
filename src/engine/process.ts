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
  input?: string;
  signal?: AbortSignal;
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
  const result = await execa(file, args, {
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
  });
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
