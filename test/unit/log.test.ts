import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger, stateDir } from "../../src/engine/log.js";

describe("logging", () => {
  it("writes a 0600 file under the XDG state directory with secrets redacted", () => {
    const dir = mkdtempSync(join(tmpdir(), "nix-deploy-log-"));
    const env = { XDG_STATE_HOME: dir, LOG_LEVEL: "info" };
    expect(stateDir(env)).toBe(join(dir, "nix-deploy"));
    const { log, file } = createLogger({ env });
    log.info({ token: "ghp_supersecret", request: { password: "hunter2" }, host: "p620" }, "checked");
    expect(file?.startsWith(join(dir, "nix-deploy", "logs"))).toBe(true);
    const text = readFileSync(file as string, "utf8");
    expect(text).toContain('"host":"p620"');
    expect(text).not.toContain("ghp_supersecret");
    expect(text).not.toContain("hunter2");
    expect(statSync(file as string).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "nix-deploy", "logs")).mode & 0o777).toBe(0o700);
    rmSync(dir, { recursive: true, force: true });
  });
});
