import { createInterface } from "node:readline/promises";
import { hostLine } from "./format.js";

/** The engine's closing message for a host: its outcome, maybe with the error after a colon. */
const HOST_OUTCOME =
  /^(deployed|unchanged|dry-run|failed|rolled-back|pending|switched|reverted|refused)(:|$)/;

/**
 * Progress for a person: the engine's `HOST: step` messages as `HOST | step` lines, and on a
 * terminal a spinner line under them with what each host is doing now.
 */
export class Progress {
  private readonly current = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private frame = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly spinner: boolean,
  ) {}

  line(message: string): void {
    const match = /^([A-Za-z0-9][A-Za-z0-9_.-]*): ([\s\S]*)$/.exec(message);
    // One line per step: the details of a failure come once, with the result.
    const firstLine = (text: string) => text.split("\n")[0] as string;
    if (match && HOST_OUTCOME.test(match[2] as string)) {
      // A host's outcome is the first line of the result printed when the command ends: not twice.
      this.current.delete(match[1] as string);
      this.draw();
      return;
    }
    const text = match ? hostLine(match[1] as string, firstLine(match[2] as string)) : firstLine(message);
    if (match) this.current.set(match[1] as string, firstLine(match[2] as string));
    this.clear();
    this.out.write(`${text}\n`);
    if (this.spinner && !this.timer) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private draw(): void {
    if (!this.timer) return;
    const frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
    this.frame = (this.frame + 1) % frames.length;
    const doing = [...this.current].map(([host, step]) => `${host}: ${step}`).join(", ");
    // A terminal whose size is unknown (a pty without a window) reports 0 columns.
    const columns = this.out.columns || 80;
    this.out.write(`\r${frames[this.frame]} ${doing}`.slice(0, columns));
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.drawn = false;
  }
}

/** Asks y/N on the terminal; only "y" or "yes" agrees. Ctrl-C at the prompt declines. */
export async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const abort = new AbortController();
  rl.on("SIGINT", () => abort.abort());
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal: abort.signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    process.stderr.write("\n");
    return false;
  } finally {
    rl.close();
  }
}

/** Asks for a line on the terminal (a value to type back); undefined at Ctrl-C. */
export async function askLine(question: string): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const abort = new AbortController();
  rl.on("SIGINT", () => abort.abort());
  try {
    return await rl.question(`${question} `, { signal: abort.signal });
  } catch {
    process.stderr.write("\n");
    return undefined;
  } finally {
    rl.close();
  }
}

/**
 * Reads a password on the terminal without echoing it: raw mode, one line, Ctrl-C or Ctrl-D gives
 * up. The text stays in memory; nothing is written but the prompt and a newline.
 */
export function askPassword(prompt: string): Promise<string | undefined> {
  const input = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let typed = "";
    const finish = (value: string | undefined) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish(typed);
        if (char === "\u0003" || char === "\u0004") return finish(undefined);
        if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on("data", onData);
  });
}
