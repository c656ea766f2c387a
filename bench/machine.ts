/**
 * What the machine itself allows for work made of many short processes, as a deployment is: the
 * time two streams of process starts take side by side against one stream alone. On an idle
 * machine with two free cores that ratio is near 1.0x; 2.0x means a second core gains nothing for
 * such work, whatever the tool that runs it: the process work of hosts deployed in parallel then
 * takes as long as the same hosts one after another. Measured with /bin/true under sh: the
 * cheapest exec there is.
 */

import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { median } from "./median.js";

const STARTS = 300;
const startStream = () =>
  execa("sh", ["-c", `i=0; while [ "$i" -lt ${STARTS} ]; do /bin/true; i=$((i + 1)); done`]);
/** The same shell counting without starting anything: CPU alone, to show the two cores are there. */
const computeStream = () => execa("sh", ["-c", 'i=0; while [ "$i" -lt 300000 ]; do i=$((i + 1)); done']);

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export interface ProcessStartScaling {
  /** Milliseconds per process start, one stream alone. */
  oneMs: number;
  /** Two streams at once: their wall time against one stream's (1.0x = two cores, 2.0x = one). */
  twoAtOnce: number;
  /** The same for two streams that compute and start nothing. */
  computeTwoAtOnce: number;
}

export async function processStartScaling(rounds = 3): Promise<ProcessStartScaling> {
  const ratio = async (stream: () => Promise<unknown>) => {
    const one: number[] = [];
    const two: number[] = [];
    for (let round = 0; round < rounds; round++) {
      one.push(await timed(stream));
      two.push(await timed(() => Promise.all([stream(), stream()])));
    }
    return { oneMs: median(one), twoAtOnce: median(two) / median(one) };
  };
  const starts = await ratio(startStream);
  const compute = await ratio(computeStream);
  return { oneMs: starts.oneMs / STARTS, twoAtOnce: starts.twoAtOnce, computeTwoAtOnce: compute.twoAtOnce };
}

export function describeScaling(scaling: ProcessStartScaling): string {
  return `${scaling.oneMs.toFixed(1)} ms a process start; two streams of starts at once take ${scaling.twoAtOnce.toFixed(2)}x one stream's time (1.0x: two cores; 2.0x: the second core gains nothing); two streams that only compute: ${scaling.computeTwoAtOnce.toFixed(2)}x`;
}
