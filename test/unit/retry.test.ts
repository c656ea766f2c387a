import { describe, expect, it } from "vitest";
import { withRetry } from "../../src/engine/retry.js";

describe("retries with exponential backoff", () => {
  it("retries what is retryable, doubling the delay up to the bound, then returns the last outcome", async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        return { exitCode: 255 };
      },
      {
        attempts: 4,
        baseDelayMs: 1,
        maxDelayMs: 3,
        retryable: ({ result }) => (result as { exitCode: number }).exitCode === 255,
        onRetry: (_, d) => delays.push(d),
      },
    );
    expect(calls).toBe(4);
    expect(delays).toEqual([1, 2, 3]);
    expect(result).toEqual({ exitCode: 255 });
  });

  it("stops at the first success", async () => {
    let calls = 0;
    const result = await withRetry(async () => ++calls, {
      attempts: 5,
      baseDelayMs: 1,
      retryable: ({ result }) => (result as number) < 2,
    });
    expect(result).toBe(2);
    expect(calls).toBe(2);
  });

  it("throws the last error after the last try, and does not retry what is not retryable", async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error(`try ${calls}`);
        },
        { attempts: 3, baseDelayMs: 1, retryable: ({ error }) => error !== undefined },
      ),
    ).rejects.toThrow("try 3");
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error("fatal");
        },
        { attempts: 3, baseDelayMs: 1, retryable: () => false },
      ),
    ).rejects.toThrow("fatal");
    expect(calls).toBe(1);
  });
});
