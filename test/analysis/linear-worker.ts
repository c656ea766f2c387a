/** The measuring thread of linear.test.ts: one scan of the ordinary file, then of each hostile one. */
import { analyzeSource } from "../../src/engine/analysis/analyze.js";
import { SourceText } from "../../src/engine/analysis/source.js";
import { HOSTILE, ordinary } from "./hostile-nix.js";
import { reportCosts } from "./measure.js";

/** What a scan does with each file: parse, resolve variables, run every anti-pattern rule. */
const scan = (code: string) => {
  const source = SourceText.fromString(code);
  return () => analyzeSource("hostile.nix", source);
};

await reportCosts(
  scan(ordinary()),
  Object.fromEntries(Object.entries(HOSTILE).map(([name, code]) => [name, scan(code)])),
);
