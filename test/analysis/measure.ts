/**
 * Cost ratios measured on a thread of its own, so that a test can stop a case that runs far past
 * its bound (an exponential glob or a quadratic parse of a megabyte runs for hours) and still
 * report every other case. The thread reports the CPU time of a yardstick, then of each case.
 */
import { parentPort, Worker, workerData } from "node:worker_threads";

type Message = { yardstick: number } | { start: string } | { done: string; ms: number } | { finished: true };

async function cpuMs(run: () => unknown): Promise<number> {
  const started = process.cpuUsage();
  await run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

/**
 * The thread's side: times `yardstick` (after two warm-up runs, the best of three), then each case
 * once, skipping the names in `workerData.skip`.
 */
export async function reportCosts(
  yardstick: () => unknown,
  cases: Record<string, () => unknown>,
): Promise<void> {
  const post = (message: Message) => parentPort?.postMessage(message);
  await cpuMs(yardstick);
  await cpuMs(yardstick);
  post({ yardstick: Math.min(await cpuMs(yardstick), await cpuMs(yardstick), await cpuMs(yardstick)) });
  const skip = new Set<string>((workerData as { skip: string[] }).skip);
  for (const [name, run] of Object.entries(cases)) {
    if (skip.has(name)) continue;
    post({ start: name });
    post({ done: name, ms: await cpuMs(run) });
  }
  post({ finished: true });
}

/** One thread over the cases not in `skip`, stopped at the first case that runs past the limit. */
function runThread(
  entry: URL,
  skip: string[],
  giveUpRatio: number,
  stackSizeMb?: number,
): Promise<{ ratios: Record<string, number>; gaveUp?: string }> {
  // TypeScript: the thread registers tsx first, as the test runner does for the tests.
  const worker = new Worker(
    `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`,
    { eval: true, workerData: { skip }, resourceLimits: stackSizeMb ? { stackSizeMb } : undefined },
  );
  const ratios: Record<string, number> = {};
  let yardstick = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    const finish = (gaveUp?: string) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve({ ratios, gaveUp });
    };
    worker.on("error", reject);
    worker.on("message", (m: Message) => {
      if ("yardstick" in m) yardstick = m.yardstick;
      // Wall-clock time, which a busy machine stretches: hence a limit well above the bound.
      else if ("start" in m) timer = setTimeout(() => finish(m.start), yardstick * giveUpRatio);
      else if ("done" in m) {
        clearTimeout(timer);
        ratios[m.done] = m.ms / yardstick;
      } else finish();
    });
  });
}

/**
 * The cases of the thread module `entry` (which calls reportCosts) that cost more than `maxRatio`
 * times its yardstick, as lines for an assertion. A case still running after five times that is
 * stopped and listed as such; the rest are measured on a new thread (with a stack of
 * `stackSizeMb`, when given).
 */
export async function slowCases(
  entry: URL,
  names: string[],
  maxRatio: number,
  stackSizeMb?: number,
): Promise<string[]> {
  const giveUpRatio = 5 * maxRatio;
  const ratios: Record<string, number> = {};
  const gaveUp: string[] = [];
  while (Object.keys(ratios).length + gaveUp.length < names.length) {
    const run = await runThread(entry, [...Object.keys(ratios), ...gaveUp], giveUpRatio, stackSizeMb);
    Object.assign(ratios, run.ratios);
    if (run.gaveUp) gaveUp.push(run.gaveUp);
    else if (Object.keys(run.ratios).length === 0) break;
  }
  return [
    ...names
      .filter((name) => ratios[name] === undefined && !gaveUp.includes(name))
      .map((n) => `${n}: not run`),
    ...gaveUp.map((name) => `${name}: still running after ${giveUpRatio}x`),
    ...Object.entries(ratios)
      .filter(([, ratio]) => ratio > maxRatio)
      .map(([name, ratio]) => `${name}: ${ratio.toFixed(1)}x`),
  ];
}
