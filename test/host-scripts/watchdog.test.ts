/**
 * watchdog.sh, the activation supervisor, run locally: stand-ins for nix-env and for the systems'
 * switch-to-configuration record what it asks of them; its state directory is a temporary one.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { sandboxPerTest } from "./run.js";

const NONCE = "20260101-000000-abcdef-web-0123456789ab";

describe("watchdog.sh", () => {
  const box = sandboxPerTest();
  let dir: string;
  let calls: string;

  /** A system whose switch-to-configuration logs its goal and exits with `status`. */
  const system = (name: string, status = 0) => {
    const bin = join(box.dir, name, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "switch-to-configuration"),
      `#!/bin/sh\necho "${name} $1" >> "${calls}"\necho "activating ${name}"\nexit ${status}\n`,
      { mode: 0o755 },
    );
    return join(box.dir, name);
  };
  const file = (name: string) => readFileSync(join(dir, name), "utf8");
  const start = (args: {
    goal?: string;
    timeout?: number;
    newSystem?: string;
    generation?: string;
    target?: string;
  }) =>
    box.start("watchdog", "nix-deploy-watchdog", [
      join(box.dir, "profile"),
      args.newSystem ?? system("new"),
      args.goal ?? "switch",
      NONCE,
      String(args.timeout ?? 30),
      system("old"),
      args.generation ?? "",
      "60",
      args.target ?? "",
    ]);
  const wake = () => spawnSync("sh", ["-c", 'echo request 1<> "$1"', "wake", join(dir, "wake")]);

  beforeEach(() => {
    dir = join(box.runDir, NONCE);
    calls = join(box.dir, "calls");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    spawnSync("mkfifo", ["-m", "0600", join(dir, "wake")]);
    box.stub("nix-env", `echo "nix-env $*" >> "${calls}"; [ ! -e "${box.dir}/nix-env-fails" ]`);
  });

  // Under bash, the sh of NixOS, the window is a timed read; elsewhere a timer process.
  for (const shell of ["the machine's sh", "bash, the sh of NixOS"]) {
    const useShell = () => {
      if (shell.startsWith("bash")) symlinkSync("/bin/bash", join(box.bin, "sh"));
    };
    it.skipIf(shell.startsWith("bash") && !existsSync("/bin/bash"))(
      `sets the profile, activates, writes its pid, and keeps the new system once confirmed with the nonce (${shell})`,
      async () => {
        useShell();
        const watchdog = start({});
        await waitFor(() => existsSync(join(dir, "activation-status")), 10_000);
        expect(file("supervisor.pid").trim()).toBe(String(watchdog.pid));
        expect(file("activation-status")).toBe("0\n");
        expect(existsSync(join(dir, "result"))).toBe(false);
        // Another text than the nonce does not confirm.
        writeFileSync(join(dir, "confirm"), "someone else");
        wake();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(existsSync(join(dir, "result"))).toBe(false);
        writeFileSync(join(dir, "confirm"), NONCE);
        wake();
        expect((await watchdog.done).status).toBe(0);
        expect(file("result")).toBe("confirmed\n");
        expect(readFileSync(calls, "utf8")).toBe(
          `nix-env -p ${join(box.dir, "profile")} --set ${join(box.dir, "new")}\nnew switch\n`,
        );
        expect(file("activation.log")).toContain("activating new");
      },
    );

    it.skipIf(shell.startsWith("bash") && !existsSync("/bin/bash"))(
      `reverts when the window passes without a confirmation, not before (${shell})`,
      async () => {
        useShell();
        const started = Date.now();
        const watchdog = start({ timeout: 1, goal: "boot" });
        expect((await watchdog.done).status).toBe(0);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
        expect(file("rollback-reason")).toBe("no confirmation within 1s\n");
        expect(file("result")).toBe("rolled-back\n");
        // Without a previous generation the profile is set to the previous system; boot stays boot.
        expect(readFileSync(calls, "utf8")).toContain(`--set ${join(box.dir, "old")}\nold boot\n`);
      },
    );

    it.skipIf(shell.startsWith("bash") && !existsSync("/bin/bash"))(
      `reverts at once on a rollback request, with its reason (${shell})`,
      async () => {
        useShell();
        const watchdog = start({ timeout: 600 });
        await waitFor(() => existsSync(join(dir, "activation-status")), 10_000);
        writeFileSync(join(dir, "rollback-request"), "critical service not active: nginx (failed)");
        wake();
        expect((await watchdog.done).status).toBe(0);
        expect(file("rollback-reason")).toBe("critical service not active: nginx (failed)\n");
        expect(file("result")).toBe("rolled-back\n");
      },
    );
  }

  it("reverts at once when the activation fails: previous generation, previous system", async () => {
    const watchdog = start({ newSystem: system("broken", 4), generation: "7" });
    expect((await watchdog.done).status).toBe(0);
    expect(file("activation-status")).toBe("4\n");
    expect(file("rollback-reason")).toBe("activation exited with status 4\n");
    expect(file("rollback-status")).toBe("0\n");
    expect(file("result")).toBe("rolled-back\n");
    expect(readFileSync(calls, "utf8").split("\n")).toEqual([
      `nix-env -p ${join(box.dir, "profile")} --set ${join(box.dir, "broken")}`,
      "broken switch",
      `nix-env -p ${join(box.dir, "profile")} --switch-generation 7`,
      "old switch",
      "",
    ]);
  });

  it("touches neither profile nor anything else when nix-env cannot set the profile", async () => {
    writeFileSync(join(box.dir, "nix-env-fails"), "");
    const watchdog = start({});
    expect((await watchdog.done).status).toBe(0);
    expect(file("activation-status")).toBe("1\n");
    expect(file("rollback-reason")).toBe(
      `could not set the system profile ${join(box.dir, "profile")} (nix-env exited with status 1)\n`,
    );
    expect(file("result")).toBe("rolled-back\n");
    expect(readFileSync(calls, "utf8")).not.toContain("switch");
  });

  it("test goal: leaves the profile alone, also when it reverts", async () => {
    const tested = start({ goal: "test", timeout: 1 });
    expect((await tested.done).status).toBe(0);
    expect(readFileSync(calls, "utf8")).toBe("new test\nold test\n");
  });

  it("a rollback (target generation) switches the profile to it instead of adding the system", async () => {
    const watchdog = start({ target: "3", generation: "5" });
    await waitFor(() => existsSync(join(dir, "activation-status")), 10_000);
    writeFileSync(join(dir, "confirm"), NONCE);
    wake();
    expect((await watchdog.done).status).toBe(0);
    expect(readFileSync(calls, "utf8")).toBe(
      `nix-env -p ${join(box.dir, "profile")} --switch-generation 3\nnew switch\n`,
    );
  });
});
