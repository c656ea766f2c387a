/**
 * Analyses one deeply nested file on a thread with a large stack. The recursive-descent parser
 * needs a few stack frames per nesting level; the main thread's stack ends near 1,000 levels, while
 * Nix's own parser accepts up to about 10,000 (bison's stack limit, "memory exhausted"), where this
 * parser stops too (MAX_NESTING). Such files are rare, so only they pay for a thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { analyzeSource, type RuleSet } from "./analyze.js";
import { SourceText } from "./source.js";

const { file, bytes, inFlake, disabled, ruleSet } = workerData as {
  file: string;
  bytes: Uint8Array;
  inFlake: boolean;
  disabled: string[];
  ruleSet: RuleSet;
};
const result = analyzeSource(file, new SourceText(Buffer.from(bytes)), {
  ruleSet,
  inFlake,
  disabled: new Set(disabled),
});
// Without fixes: they are applied on the main thread, whose parser cannot reach this depth, so none
// is offered; and the replacement texts of findings nested in one another add up to the square of
// the depth when copied across threads.
parentPort?.postMessage({
  syntaxErrors: result.syntaxErrors,
  findings: result.findings.map(({ fix: _fix, ...finding }) => finding),
});
