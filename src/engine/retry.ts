/** Retries work that fails for passing reasons (network), with exponential backoff and a bound. */
export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Whether a result or error is worth another try. */
  retryable: (outcome: { error?: unknown; result?: unknown }) => boolean;
  onRetry?: (attempt: number, delayMs: number) => void;
}

export async function withRetry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let outcome: { error?: unknown; result?: T };
    try {
      outcome = { result: await work(attempt) };
    } catch (error) {
      outcome = { error };
    }
    const last = attempt >= options.attempts || options.signal?.aborted;
    if (last || !options.retryable(outcome)) {
      if ("error" in outcome && outcome.error !== undefined) throw outcome.error;
      return outcome.result as T;
    }
    const delay = Math.min(options.baseDelayMs * 2 ** (attempt - 1), options.maxDelayMs ?? 30_000);
    options.onRetry?.(attempt, delay);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
