/**
 * The host scripts as files: every name the engine can load has its file and the other way round,
 * what is sent is the file without its header, and each file passes shellcheck as POSIX sh.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  HOST_SCRIPT_NAMES,
  hostCommand,
  hostScript,
  scriptFile,
  withoutHeader,
} from "../../src/engine/host/scripts.js";

const DIR = join(import.meta.dirname, "..", "..", "src", "engine", "host", "scripts");
const shellcheck = spawnSync("shellcheck", ["--version"]).status === 0;

describe("host scripts", () => {
  it("are the files of src/engine/host/scripts/, each under a typed name", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".sh"));
    expect(files.sort()).toEqual(HOST_SCRIPT_NAMES.map((n) => `${n}.sh`).sort());
    for (const name of HOST_SCRIPT_NAMES) expect(scriptFile(name)).toBe(join(DIR, `${name}.sh`));
  });

  it("each has a header saying how it is run, and is sent without it", () => {
    for (const name of HOST_SCRIPT_NAMES) {
      const text = readFileSync(join(DIR, `${name}.sh`), "utf8");
      expect(text.startsWith("#!/bin/sh\n# "), name).toBe(true);
      expect(text, name).toMatch(/Run as `sh -c|Started detached/);
      expect(text, name).toMatch(/Exit status/);
      const sent = hostScript(name);
      expect(sent.startsWith("#"), name).toBe(false);
      expect(text.endsWith(sent), name).toBe(true);
    }
    expect(withoutHeader("#!/bin/sh\n# a\n\n  # b\necho x\n# kept\n")).toBe("echo x\n# kept\n");
  });

  it("reach the host as `sh -c SCRIPT PROGRAM ARGS...`: arguments are never part of the text", () => {
    expect(hostCommand("probe", "nix-deploy-probe", ["/a b/'c'"])).toEqual([
      "sh",
      "-c",
      hostScript("probe"),
      "nix-deploy-probe",
      "/a b/'c'",
    ]);
  });

  it.skipIf(!shellcheck)(
    `pass shellcheck as POSIX sh${shellcheck ? "" : " (skipped: shellcheck is not installed; apt-get install shellcheck)"}`,
    () => {
      const files = HOST_SCRIPT_NAMES.map((name) => join(DIR, `${name}.sh`));
      const result = spawnSync("shellcheck", ["--shell=sh", "--severity=style", ...files], {
        encoding: "utf8",
      });
      expect(result.stdout).toBe("");
      expect(result.status).toBe(0);
    },
  );
});
