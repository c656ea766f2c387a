import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ACTIVATION_FILES,
  activationCommand,
  activationDir,
  parseLogTail,
  parsePending,
  parseState,
  profileGeneration,
  RUN_DIR,
  RUN_DIR_VARIABLE,
} from "../../src/engine/host/protocol.js";
import { hostScript } from "../../src/engine/host/scripts.js";

const script = (name: string) =>
  readFileSync(
    join(import.meta.dirname, "..", "..", "src", "engine", "host", "scripts", `${name}.sh`),
    "utf8",
  );

describe("the /run/nix-deploy protocol", () => {
  it("reads every line of the state activation.sh prints", () => {
    const stdout = [
      "supervisor=systemd-run",
      "supervisor-process=running",
      "activation-status=0",
      "result=rolled-back",
      "rollback-reason=critical service not active: nginx (failed) ",
      "current=/nix/store/abc-nixos-system",
      "profile=system-12-link",
      "",
    ].join("\n");
    expect(parseState(stdout)).toEqual({
      supervisor: "systemd-run",
      supervisorProcess: "running",
      activationStatus: 0,
      result: "rolled-back",
      rollbackReason: "critical service not active: nginx (failed)",
      current: "/nix/store/abc-nixos-system",
      generation: 12,
    });
  });

  it("skips what it does not know: garbage, values out of range, empty links", () => {
    const stdout = [
      "ssh: warning, something",
      "activation-status=",
      "activation-status=abc",
      "result=not-started",
      "result=maybe",
      "supervisor=cron",
      "supervisor-process=zombie",
      "current=",
      "profile=",
      "rollback-reason=a=b",
    ].join("\n");
    expect(parseState(stdout)).toEqual({ rollbackReason: "a=b" });
    expect(parseState("")).toEqual({});
  });

  it("reads the profile's generation from a link name or path", () => {
    expect(profileGeneration("system-7-link")).toBe(7);
    expect(profileGeneration("/nix/var/nix/profiles/system-123-link\n")).toBe(123);
    expect(profileGeneration("/nix/store/abc-nixos-system")).toBeUndefined();
    expect(profileGeneration("")).toBeUndefined();
  });

  it("reads the pending and pruned activations, names with spaces kept whole", () => {
    expect(parsePending("pending=a b\npruned=c\npending=d\nnoise\n")).toEqual({
      pending: ["a b", "d"],
      pruned: ["c"],
    });
    expect(parsePending("")).toEqual({ pending: [], pruned: [] });
  });

  it("reads the log tail without blank lines", () => {
    expect(parseLogTail("one\n\n  \ntwo\n")).toEqual(["one", "two"]);
  });

  it("runs each action of activation.sh under its own program name, arguments as positional words", () => {
    expect(activationCommand("confirm", ["NONCE", "/nix/var/nix/profiles/system"])).toEqual([
      "sh",
      "-c",
      hostScript("activation"),
      "nix-deploy-confirm",
      "confirm",
      "NONCE",
      "/nix/var/nix/profiles/system",
    ]);
    expect(activationCommand("request-rollback", ["N", "P", "why"]).slice(3)).toEqual([
      "nix-deploy-rollback",
      "request-rollback",
      "N",
      "P",
      "why",
    ]);
    expect(activationDir("abc")).toBe("/run/nix-deploy/abc");
  });

  it("names the files and the directory the scripts use", () => {
    const texts = script("activation") + script("watchdog");
    for (const name of Object.values(ACTIVATION_FILES)) expect(texts, name).toContain(name);
    for (const name of ["activation", "watchdog"])
      expect(script(name), name).toContain(`\${${RUN_DIR_VARIABLE}:-${RUN_DIR}}`);
  });
});
