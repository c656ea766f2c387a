/**
 * How every engine operation is called: `(engine, input, hooks)`. The input is what the user asked
 * for (the MCP tool's arguments, the CLI command's flags); the hooks are how the operation talks back
 * to whoever called it while it runs. An MCP tool call fills them from the client (cancellation,
 * progress notifications, elicitation), the CLI from the terminal (Ctrl-C, progress lines, a y/N
 * question); a test or an operation calling another uses `quietHooks`.
 */
import type { Engine } from "./engine.js";

export interface Hooks {
  /** Aborted when the caller gives up (the client cancels, Ctrl-C): the operation stops at its next step. */
  signal: AbortSignal;
  /**
   * A step reached, for a person watching: `done` of `total` when the work can be counted. Never
   * waits and never fails: a progress message that cannot be delivered is dropped.
   */
  progress(message: string, done?: number, total?: number): void;
  /**
   * Asks the user a yes/no question: true for yes, false for no or a dismissed question, undefined
   * when nobody can be asked (a client without elicitation, a CLI without a terminal).
   */
  confirm(question: string): Promise<boolean | undefined>;
  /**
   * Asks the user to type a value (a disk id to be erased): what they typed, or undefined when
   * nobody can be asked or the question was dismissed. Nothing answers it on the user's behalf.
   */
  ask(question: string): Promise<string | undefined>;
}

/** An engine operation behind a tool and a CLI command. */
export type Operation<Input, Output> = (engine: Engine, input: Input, hooks: Hooks) => Promise<Output>;

/** Never aborted: the signal of hooks made without one. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * Hooks for a caller without a client (a test, an operation calling another, a resource read):
 * no progress is shown, nobody can be asked, and nothing cancels unless a signal is given.
 */
export function quietHooks(given: Partial<Hooks> = {}): Hooks {
  return {
    signal: given.signal ?? NEVER_ABORTED,
    progress: given.progress ?? (() => {}),
    confirm: given.confirm ?? (async () => undefined),
    ask: given.ask ?? (async () => undefined),
  };
}

/**
 * Declares an engine operation: `export const deploy = operation<DeployOptions, DeployResult>(async
 * (engine, options, hooks) => ...)`. A caller without a client (a test, another operation) may
 * leave the hooks out; it gets `quietHooks()`.
 */
export function operation<Input, Output>(run: Operation<Input, Output>) {
  return (engine: Engine, input: Input, hooks: Hooks = quietHooks()): Promise<Output> =>
    run(engine, input, hooks);
}
