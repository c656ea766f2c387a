/**
 * The measuring side of linear.test.ts, on a thread of its own so that the test can stop it when a
 * file takes far longer than it may (a quadratic path on a megabyte runs for hours). It reports the
 * CPU time of one scan of the ordinary file, then of each hostile one not in `workerData.skip`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { analyzeSource } from "../../src/engine/analysis/scan.js";
import { SourceText } from "../../src/engine/analysis/source.js";
import { HOSTILE, ordinary } from "./hostile-nix.js";

/** CPU milliseconds of one scan of the file (parse, variable resolution, every anti-pattern rule). */
function cost(code: string): number {
  const source = SourceText.fromString(code);
  const started = process.cpuUsage();
  analyzeSource("hostile.nix", source);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

const yardstick = ordinary();
cost(yardstick); // the first runs pay for compiling the parser
cost(yardstick);
parentPort?.postMessage({ yardstick: Math.min(cost(yardstick), cost(yardstick), cost(yardstick)) });
const skip = new Set<string>((workerData as { skip: string[] }).skip);
for (const [name, code] of Object.entries(HOSTILE)) {
  if (skip.has(name)) continue;
  parentPort?.postMessage({ start: name, bytes: code.length });
  parentPort?.postMessage({ done: name, ms: cost(code) });
}
parentPort?.postMessage({ finished: true });
