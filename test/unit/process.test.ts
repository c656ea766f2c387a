/**
 * Local programs as the engine runs them: runCommand's results, and startCommand's conversations
 * (output read as it comes, input written later), which an activation session holds with a host.
 */
import { describe, expect, it } from "vitest";
import { runCommand, startCommand } from "../../src/engine/process.js";

describe("runCommand", () => {
  it("keeps the exit status, both outputs and the input it was given", async () => {
    const result = await runCommand("sh", ["-c", 'read -r line; echo "out $line"; echo err >&2; exit 3'], {
      input: "in\n",
    });
    expect(result).toMatchObject({ exitCode: 3, stdout: "out in\n", stderr: "err\n", timedOut: false });
  });
});

describe("startCommand", () => {
  it("reads up to a marker line while the program runs, then takes input and ends with all its output", async () => {
    const running = startCommand("sh", ["-c", 'echo first; echo "@@ready"; read -r line; echo "got $line"'], {
      keepStdinOpen: true,
    });
    expect(await running.untilLine("@@ready")).toBe("first\n");
    expect(running.ended).toBe(false);
    running.write("hello\n");
    running.end();
    const result = await running.result;
    expect(result).toMatchObject({ exitCode: 0, stdout: "first\n@@ready\ngot hello\n", timedOut: false });
    expect(running.ended).toBe(true);
  });

  it("writes its input first and keeps stdin open after it", async () => {
    const running = startCommand("sh", ["-c", 'read -r a; echo "@@a $a"; read -r b; echo "b $b"'], {
      keepStdinOpen: true,
      input: "one\n",
    });
    expect(await running.untilLine("@@a one")).toBe("");
    running.write("two\n");
    running.end();
    expect((await running.result).stdout).toBe("@@a one\nb two\n");
  });

  it("a marker that never comes: undefined once the program has ended; a marker inside a line does not count", async () => {
    const running = startCommand("sh", ["-c", "echo 'not @@ready'; echo '@@ready later'"], {
      keepStdinOpen: true,
    });
    expect(await running.untilLine("@@ready")).toBeUndefined();
    expect((await running.result).exitCode).toBe(0);
  });

  it("the end of its input is the end of the conversation", async () => {
    const running = startCommand("sh", ["-c", 'echo "@@ready"; read -r line || echo "no line"'], {
      keepStdinOpen: true,
    });
    await running.untilLine("@@ready");
    running.end();
    expect((await running.result).stdout).toBe("@@ready\nno line\n");
  });

  it("a deadline stops it, and is marked as a timeout; a lifted one does not", async () => {
    const lifted = startCommand("sh", ["-c", 'sleep 0.3; echo "@@done"'], { keepStdinOpen: true });
    lifted.deadline(100);
    lifted.deadline(undefined);
    expect(await lifted.result).toMatchObject({ exitCode: 0, stdout: "@@done\n", timedOut: false });
    const stopped = startCommand("sleep", ["30"], { keepStdinOpen: true });
    stopped.deadline(100);
    const result = await stopped.result;
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).not.toBe(0);
  });
});
