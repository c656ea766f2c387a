/**
 * activation.sh, the deployer's side of an activation, run locally: its state directory is a
 * temporary one, the supervisor the real watchdog.sh with stand-ins for nix-env and the systems.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { parseResources } from "../../src/engine/deploy/health.js";
import { splitSections } from "../../src/engine/fleet/status.js";
import { parsePending, parseState, splitActivationAnswer } from "../../src/engine/host/protocol.js";
import { hostScript } from "../../src/engine/host/scripts.js";
import { sandboxPerTest } from "./run.js";

const NONCE = "20260101-000000-abcdef-web-0123456789ab";
/** The launcher takes the systemd-run branch where systemd runs; these tests cover the setsid one. */
const systemdHere = existsSync("/run/systemd/system");

describe("activation.sh", () => {
  const box = sandboxPerTest();
  const dir = () => join(box.runDir, NONCE);
  const profile = () => join(box.dir, "profile");

  /** A state directory as a supervisor leaves it: `files` by name. */
  const state = (name: string, files: Record<string, string>) => {
    mkdirSync(join(box.runDir, name), { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(box.runDir, name, file), text);
    return join(box.runDir, name);
  };
  const status = (extraEnv?: NodeJS.ProcessEnv) =>
    box.run("activation", "nix-deploy-status", ["status", NONCE, profile()], extraEnv);

  describe.skipIf(systemdHere)(
    "launch (setsid; this machine runs systemd, which takes the other branch)",
    () => {
      const system = (name: string, status: number, before = "") => {
        mkdirSync(join(box.dir, name, "bin"), { recursive: true });
        writeFileSync(
          join(box.dir, name, "bin", "switch-to-configuration"),
          `#!/bin/sh\n${before}\nexit ${status}\n`,
          { mode: 0o755 },
        );
        return join(box.dir, name);
      };
      /** `extra`: CHANGES, then HEALTH and the units. */
      const launch = (newSystem: string, installBootloader = "", extra: string[] = []) =>
        box.run("activation", "nix-deploy-launch", [
          "launch",
          hostScript("watchdog"),
          installBootloader,
          profile(),
          newSystem,
          "switch",
          NONCE,
          "30",
          system("old", 0),
          "",
          "60",
          "",
          ...extra,
        ]);

      beforeEach(() => box.stub("nix-env", "exit 0"));

      it("with a health script: runs it with the units after a successful activation, in the same answer", () => {
        const health = 'echo "@@critical"; for unit in "$@"; do echo "$unit active"; done';
        const launched = launch(system("new", 0), "", ["", health, "sshd.service", "nginx.service"]);
        box.track(Number(readFileSync(join(dir(), "supervisor.pid"), "utf8")));
        const { state, health: output } = splitActivationAnswer(launched.stdout);
        expect(state).toMatchObject({ supervisor: "setsid", activationStatus: 0 });
        expect(output).toBe("@@critical\nsshd.service active\nnginx.service active\n");
      });

      it("with a changes script: compares the running and the new system beside the activation, in the same answer", () => {
        // The activation ends only once the comparison has: the answer then holds it.
        const waits = `while [ ! -f "${dir()}/changes.done" ]; do sleep 0.05; done`;
        const next = system("new", 0, waits);
        const launched = launch(next, "", ['echo "@@packages"; echo "$1 -> $2"', "true"]);
        box.track(Number(readFileSync(join(dir(), "supervisor.pid"), "utf8")));
        const { state, health, changes } = splitActivationAnswer(launched.stdout);
        expect(state).toMatchObject({ activationStatus: 0 });
        expect(health).toBe("");
        expect(changes).toBe(`@@packages\n${join(box.dir, "old")} -> ${next}\n`);
      });

      for (const shell of ["the machine's sh", "bash, the sh of NixOS"])
        it.skipIf(shell.startsWith("bash") && !existsSync("/bin/bash"))(
          `a comparison still running when the activation is over is not waited for: the confirmation brings it (${shell})`,
          () => {
            // Under bash, the supervisor and every script it starts run in bash too, as on NixOS.
            if (shell.startsWith("bash")) symlinkSync("/bin/bash", join(box.dir, "bin", "sh"));
            // The comparison ends only once the confirmation has come.
            const slow = `i=0; while [ ! -f "${dir()}/confirm" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; echo "@@packages"; echo late`;
            const launched = launch(system("new", 0), "", [slow]);
            box.track(Number(readFileSync(join(dir(), "supervisor.pid"), "utf8")));
            box.track(Number(readFileSync(join(dir(), "changes.pid"), "utf8")));
            expect(splitActivationAnswer(launched.stdout)).toEqual({
              state: expect.objectContaining({ activationStatus: 0 }),
            });
            const confirmed = box.run("activation", "nix-deploy-confirm", [
              "confirm",
              NONCE,
              profile(),
              "changes",
            ]);
            expect(splitActivationAnswer(confirmed.stdout)).toEqual({
              state: expect.objectContaining({ result: "confirmed" }),
              changes: "@@packages\nlate\n",
            });
          },
        );

      /** activation.sh session: launch's arguments without the systems, which `input` brings. */
      const session = (input: string, extra: string[] = []) =>
        box.run(
          "activation",
          "nix-deploy-session",
          [
            "session",
            hostScript("watchdog"),
            "",
            profile(),
            "",
            "switch",
            NONCE,
            "30",
            "",
            "",
            "60",
            "",
            ...extra,
          ],
          undefined,
          input,
        );
      const afterReady = (stdout: string): [string, string] | undefined => {
        const at = stdout.indexOf("@@ready\n");
        return at < 0 ? undefined : [stdout.slice(0, at), stdout.slice(at + "@@ready\n".length)];
      };

      for (const shell of ["the machine's sh", "bash, the sh of NixOS"])
        it.skipIf(shell.startsWith("bash") && !existsSync("/bin/bash"))(
          `session: the probe's answer, then the launch with the systems of the line that names the nonce; other lines go unseen (${shell})`,
          () => {
            if (shell.startsWith("bash")) symlinkSync("/bin/bash", join(box.dir, "bin", "sh"));
            symlinkSync("system-7-link", profile());
            // The probe asks HEALTH for the resources alone; the launch, for the units.
            const health =
              'if [ "$1" = --resources ]; then echo "@@resources"; exit 0; fi; echo "@@critical"; for unit in "$@"; do echo "$unit active"; done';
            const next = system("new", 0);
            // What sudo -S leaves unread when it needed no password: the password line, first.
            const ran = session(`hunter2 is my password\n${NONCE} ${next} ${system("old", 0)} 7\n`, [
              "",
              health,
              "sshd.service",
            ]);
            box.track(Number(readFileSync(join(dir(), "supervisor.pid"), "utf8")));
            expect(ran.status).toBe(0);
            const [probe, launched] = afterReady(ran.stdout) ?? ["", ""];
            expect(parsePending(probe)).toEqual({ pending: [], pruned: [] });
            expect(parseState(probe).generation).toBe(7);
            expect(probe.endsWith("@@resources\n")).toBe(true);
            expect(splitActivationAnswer(launched)).toEqual({
              state: expect.objectContaining({ supervisor: "setsid", activationStatus: 0 }),
              health: "@@critical\nsshd.service active\n",
            });
            // The supervisor got the systems and the generation of the line.
            const confirmed = box.run("activation", "nix-deploy-confirm", ["confirm", NONCE, profile()]);
            expect(parseState(confirmed.stdout)).toMatchObject({ result: "confirmed" });
            expect(`${ran.stdout}${ran.stderr}${confirmed.stdout}`).not.toContain("hunter2");
          },
        );

      it("session: the end of its input ends it with nothing started", () => {
        const ran = session("not the nonce\n", ["", hostScript("health")]);
        expect(ran.status).toBe(0);
        expect(ran.stdout.endsWith("@@ready\n")).toBe(true);
        expect(existsSync(dir())).toBe(false);
      });

      it("session with an undecided activation on the host: the probe's answer alone, nothing launched", () => {
        state("live run", { "supervisor.pid": String(box.sleeper("live run")) });
        const ran = session(`${NONCE} ${system("new", 0)} ${system("old", 0)} -\n`, [
          "",
          hostScript("health"),
        ]);
        expect(ran.status).toBe(0);
        expect(afterReady(ran.stdout)).toBeUndefined();
        expect(parsePending(ran.stdout).pending).toEqual(["live run"]);
        expect(existsSync(dir())).toBe(false);
      });

      it("with a health script and a failed activation: no health check, the rollback's state alone", () => {
        const launched = launch(system("broken", 3), "", ["", 'echo "@@critical"', "sshd.service"]);
        box.track(Number(readFileSync(join(dir(), "supervisor.pid"), "utf8")));
        expect(splitActivationAnswer(launched.stdout)).toEqual({
          state: expect.objectContaining({ activationStatus: 3 }),
        });
      });

      it("starts the supervisor, waits for the activation's status, confirms, and reports the verdict", () => {
        const launched = launch(system("new", 0));
        expect(launched.status).toBe(0);
        const supervisorPid = Number(readFileSync(join(dir(), "supervisor.pid"), "utf8"));
        box.track(supervisorPid);
        expect(parseState(launched.stdout)).toEqual({
          supervisor: "setsid",
          supervisorProcess: "running",
          activationStatus: 0,
        });
        expect(readFileSync(join(dir(), "launcher.pid"), "utf8").trim()).toMatch(/^\d+$/);

        const confirmed = box.run("activation", "nix-deploy-confirm", ["confirm", NONCE, profile()]);
        expect(confirmed.status).toBe(0);
        expect(parseState(confirmed.stdout)).toMatchObject({ result: "confirmed", activationStatus: 0 });
        expect(readFileSync(join(dir(), "confirm"), "utf8")).toBe(NONCE);
        // Once it has decided, the supervisor is gone and says so.
        expect(parseState(status().stdout)).toMatchObject({ supervisorProcess: "gone", result: "confirmed" });
      });

      it("a failed activation: the launch already reports the rollback", () => {
        const launched = launch(system("broken", 3));
        box.track(Number(readFileSync(join(dir(), "supervisor.pid"), "utf8")));
        expect(parseState(launched.stdout)).toMatchObject({
          supervisor: "setsid",
          activationStatus: 3,
        });
        const after = box.run("activation", "nix-deploy-rollback", [
          "request-rollback",
          NONCE,
          profile(),
          "late",
        ]);
        expect(parseState(after.stdout)).toMatchObject({
          result: "rolled-back",
          rollbackReason: "activation exited with status 3",
        });
      });

      it("a launch that fails before the supervisor starts says nothing of one and marks the directory not-started", () => {
        box.stub("mkfifo", "exit 1");
        const launched = launch(system("new", 0));
        expect(launched.status).not.toBe(0);
        expect(launched.stdout).not.toContain("supervisor=");
        expect(readFileSync(join(dir(), "result"), "utf8")).toBe("not-started\n");
        expect(existsSync(join(dir(), "supervisor.pid"))).toBe(false);
      });
    },
  );

  it("status of an activation that does not exist: unknown supervisor, no files", () => {
    const result = status();
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^supervisor-process=unknown\ncurrent=.*\nprofile=\n$/);
  });

  it("status reads the files, newlines as spaces, at most 1000 bytes, and the profile's generation", () => {
    state(NONCE, {
      "activation-status": "0\n",
      result: "rolled-back\n",
      "rollback-reason": `failed units: a\nb\n${"x".repeat(2000)}`,
    });
    symlinkSync("profile-12-link", profile());
    const reported = parseState(status().stdout);
    expect(reported).toMatchObject({ activationStatus: 0, result: "rolled-back", generation: 12 });
    expect(reported.rollbackReason?.startsWith("failed units: a b x")).toBe(true);
    expect(reported.rollbackReason).toHaveLength(1000);
  });

  it("a supervisor pid that is stale, reused, or not a pid at all is a gone supervisor", () => {
    for (const pid of ["999999999", String(process.pid), "self", "1 2", "../1", "garbage\n"]) {
      state(NONCE, { "supervisor.pid": pid });
      expect(parseState(status().stdout).supervisorProcess, pid).toBe("gone");
    }
    // A live process whose command line names the nonce is the supervisor.
    state(NONCE, { "supervisor.pid": String(box.sleeper(NONCE)) });
    expect(parseState(status().stdout).supervisorProcess).toBe("running");
  });

  it("under systemd-run, before its pid: the unit tells a starting supervisor from one that died", () => {
    state(NONCE, { unit: `nix-deploy-${NONCE}.service\n` });
    box.stub(
      "systemctl",
      `[ "$1 $2" = "is-active nix-deploy-${NONCE}.service" ] && cat "${box.dir}/unit-state"`,
    );
    for (const [unitState, process] of [
      ["active", "unknown"],
      ["activating", "unknown"],
      ["inactive", "gone"],
      ["failed", "gone"],
    ]) {
      writeFileSync(join(box.dir, "unit-state"), `${unitState}\n`);
      expect(parseState(status().stdout).supervisorProcess, unitState).toBe(process);
    }
    // No answer from systemd is no evidence: still unknown.
    box.stub("systemctl", "exit 1");
    expect(parseState(status().stdout).supervisorProcess).toBe("unknown");
  });

  it("confirm: exit 3 for an activation that does not exist; a gone supervisor ends the wait early", () => {
    expect(box.run("activation", "nix-deploy-confirm", ["confirm", NONCE, profile()]).status).toBe(3);
    state(NONCE, { "supervisor.pid": "999999999" });
    const started = Date.now();
    const confirmed = box.run("activation", "nix-deploy-confirm", ["confirm", NONCE, profile()]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(parseState(confirmed.stdout)).toMatchObject({ supervisorProcess: "gone" });
    expect(readFileSync(join(dir(), "confirm"), "utf8")).toBe(NONCE);
  });

  describe.skipIf(!existsSync("/bin/bash"))(
    "under bash, the sh of NixOS, whose read times out by itself",
    () => {
      // `sh` on PATH is bash (in its POSIX mode, as a link named sh runs it): so are the supervisor
      // and every script it starts, as on a NixOS host.
      beforeEach(() => symlinkSync("/bin/bash", join(box.dir, "bin", "sh")));

      it("a gone supervisor still ends a confirmation's wait, with no ticker process", () => {
        state(NONCE, { "supervisor.pid": "999999999" });
        const confirmed = box.run("activation", "nix-deploy-confirm", ["confirm", NONCE, profile()]);
        expect(parseState(confirmed.stdout)).toMatchObject({ supervisorProcess: "gone" });
      });
    },
  );

  it("request-rollback writes the reason as given, quotes and all", () => {
    state(NONCE, { "supervisor.pid": "999999999" });
    const reason = `critical service not active: it's "nginx" $(reboot) \`x\``;
    box.run("activation", "nix-deploy-rollback", ["request-rollback", NONCE, profile(), reason]);
    expect(readFileSync(join(dir(), "rollback-request"), "utf8")).toBe(reason);
  });

  it("pending: lists undecided activations, prunes dead ones, keeps decided ones a day", () => {
    const hours = (path: string, h: number) => {
      const t = (Date.now() - h * 3600_000) / 1000;
      utimesSync(path, t, t);
    };
    const live = "live run";
    state(live, { "supervisor.pid": String(box.sleeper(live)) });
    state("starting", { "launcher.pid": String(box.sleeper("starting")) });
    state("fresh", {});
    hours(state("no-launcher", {}), 1);
    state("dead", { "launcher.pid": "999999999" });
    state("-rf", { "supervisor.pid": "garbage", "launcher.pid": "garbage" });
    state("decided", { result: "confirmed\n" });
    hours(state("decided-long-ago", { result: "rolled-back\n" }), 25);
    writeFileSync(join(box.runDir, "a-file"), "");

    const listed = box.run("activation", "nix-deploy-pending", ["pending"]);
    expect(listed.status).toBe(0);
    const { pending, pruned } = parsePending(listed.stdout);
    expect(pending.sort()).toEqual(["fresh", "live run", "starting"]);
    expect(pruned.sort()).toEqual(["-rf", "dead", "no-launcher"]);
    for (const gone of ["-rf", "dead", "no-launcher", "decided-long-ago"])
      expect(existsSync(join(box.runDir, gone)), gone).toBe(false);
    for (const kept of ["live run", "starting", "fresh", "decided", "a-file"])
      expect(existsSync(join(box.runDir, kept)), kept).toBe(true);
  });

  it("pending with the profile (the probe before a deployment): the list, then the rollback point and the resources", () => {
    state("live run", { "supervisor.pid": String(box.sleeper("live run")) });
    symlinkSync("system-7-link", profile());
    const probed = box.run("activation", "nix-deploy-pending", ["pending", profile(), hostScript("health")]);
    expect(probed.status).toBe(0);
    expect(parsePending(probed.stdout).pending).toEqual(["live run"]);
    expect(parseState(probed.stdout).generation).toBe(7);
    const resources = parseResources(splitSections(probed.stdout));
    expect(resources.memTotalBytes).toBeGreaterThan(0);
    expect(resources.nixDiskFreeBytes).toBeGreaterThan(0);
    expect(resources.cpus).toBeGreaterThanOrEqual(1);
  });

  it("pending with no state directory at all: nothing, exit 0", () => {
    expect(box.run("activation", "nix-deploy-pending", ["pending"])).toMatchObject({ stdout: "", status: 0 });
  });

  it("log: the last lines of the activation's log; nothing when there is none", () => {
    state(NONCE, { "activation.log": "one\ntwo\nthree\n" });
    expect(box.run("activation", "nix-deploy-log", ["log", NONCE, "2"])).toMatchObject({
      stdout: "two\nthree\n",
      status: 0,
    });
    expect(box.run("activation", "nix-deploy-log", ["log", "other", "2"])).toMatchObject({
      stdout: "",
      status: 0,
    });
  });

  it("an unknown action is refused, naming the known ones", () => {
    const result = box.run("activation", "nix-deploy-x", ["frobnicate"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown action 'frobnicate' (launch, session, status, confirm");
  });
});
