import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { quoteShellWord, remoteCommandLine } from "../../src/engine/remote/quote.js";
import { HOSTILE } from "../support/hostile.js";

/** Runs the quoted line in a real shell and returns the arguments the program received. */
function roundTrip(shell: string, words: string[]): string[] {
  const line = remoteCommandLine(["printf", "%s\\0", ...words]);
  const out = execFileSync(shell, ["-c", line], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

describe("remote command quoting", () => {
  it("leaves plain words readable", () => {
    expect(remoteCommandLine(["readlink", "/run/current-system"])).toBe("readlink /run/current-system");
    expect(quoteShellWord("root@127.0.0.1")).toBe("root@127.0.0.1");
  });

  it("quotes everything a shell would interpret", () => {
    for (const word of HOSTILE) {
      if (word === "-n" || word === "--option=value" || word === "a=b c=d") continue;
      expect(quoteShellWord(word)).toMatch(/^'.*'$/s);
    }
  });

  for (const shell of ["/bin/sh", "bash"]) {
    const available = spawnSync(shell, ["-c", "true"]).status === 0;
    it.skipIf(!available)(`delivers each hostile string as exactly one argument through ${shell}`, () => {
      expect(roundTrip(shell, HOSTILE)).toEqual(HOSTILE);
    });
  }

  it("refuses a NUL byte, which no shell argument can carry", () => {
    expect(() => quoteShellWord("a\0b")).toThrow(/NUL/);
  });

  it("refuses an empty command", () => {
    expect(() => remoteCommandLine([])).toThrow();
  });
});
