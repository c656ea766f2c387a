import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  hostsInFlight,
  limitsSchema,
  resolveLimits,
} from "../../src/engine/deploy/limits.js";
import { Semaphore } from "../../src/engine/process.js";

describe("deployment limits", () => {
  it("takes the call's limit, else the environment's, else the inventory's, else the default", () => {
    expect(resolveLimits(undefined, {}, undefined)).toEqual({ ...DEFAULT_LIMITS, evalChunk: undefined });
    expect(
      resolveLimits(
        { copy: 3 },
        { NIX_DEPLOY_COPY_LIMIT: "5", NIX_DEPLOY_ACTIVATE_LIMIT: "6", NIX_DEPLOY_EVAL_CHUNK: "4" },
        { copy: 7, activate: 8, build: 1, evalChunk: 9 },
      ),
    ).toEqual({ copy: 3, activate: 6, build: 1, evalChunk: 4 });
  });

  it("refuses an environment value that is no number of processes, naming the variable", () => {
    expect(() => resolveLimits(undefined, { NIX_DEPLOY_EVAL_CHUNK: "lots" }, undefined)).toThrow(
      /NIX_DEPLOY_EVAL_CHUNK must be a whole number from 1 to 1000 \(got "lots"\)/,
    );
    expect(() => resolveLimits(undefined, { NIX_DEPLOY_COPY_LIMIT: "0" }, undefined)).toThrow(
      /NIX_DEPLOY_COPY_LIMIT/,
    );
  });

  it("refuses a limit below one and a field it does not know", () => {
    expect(limitsSchema.safeParse({ copy: 0 }).success).toBe(false);
    expect(limitsSchema.safeParse({ copies: 2 }).success).toBe(false);
  });

  it("keeps enough hosts in flight for every copy and every activation", () => {
    expect(hostsInFlight({ build: 1, copy: 4, activate: 10 })).toBe(10);
  });
});

describe("Semaphore", () => {
  it("runs at most its limit at once, the others in order", async () => {
    const semaphore = new Semaphore(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((n) =>
        semaphore.run(async () => {
          running++;
          most = Math.max(most, running);
          order.push(n);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it("passes a failed piece's permit on", async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(semaphore.run(async () => "next")).resolves.toBe("next");
  });
});
