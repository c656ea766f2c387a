import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, DEFAULT_LOG_KEEP, stateDir } from "../../src/engine/log.js";

const PEM = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n");

describe("logging", () => {
  const dirs: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), "nix-deploy-log-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("writes a 0600 file in a 0700 directory under the XDG state directory", () => {
    const dir = scratch();
    const logs = join(dir, "nix-deploy", "logs");
    // A directory left world-readable by something else is tightened, not trusted.
    mkdirSync(logs, { recursive: true, mode: 0o755 });
    chmodSync(logs, 0o755);
    const env = { XDG_STATE_HOME: dir, LOG_LEVEL: "info" };
    expect(stateDir(env)).toBe(join(dir, "nix-deploy"));
    const { log, file } = createLogger({ env });
    log.info({ host: "p620" }, "checked");
    expect(file?.startsWith(logs)).toBe(true);
    expect(readFileSync(file as string, "utf8")).toContain('"host":"p620"');
    expect(statSync(file as string).mode & 0o777).toBe(0o600);
    expect(statSync(logs).mode & 0o777).toBe(0o700);
  });

  it("keeps secrets out of the file at any depth, in keys and in values", () => {
    const dir = scratch();
    const { log, file } = createLogger({ env: { XDG_STATE_HOME: dir } });
    const request = {
      host: "p620",
      token: "ghp_supersecret",
      deep: { nested: [{ auth: { password: "hunter2", GITHUB_TOKEN: "tok-in-env" } }] },
      headers: { Authorization: "Bearer abcdefgh12345678" },
      sshKey: { privateKey: PEM },
      stderr: `ssh said: ${PEM}`,
      curl: "curl -H 'Authorization: token ghp_abcdefghijklmnopqrstuvwxyz0123' https://api.github.com",
      tokenSource: "GITHUB_TOKEN",
      identityFile: "/root/.ssh/id_ed25519",
    };
    log.info(request, "request");
    log.error({ err: Object.assign(new Error(`failed with ${PEM}`), { password: "errpass1" }) }, "failed");
    const text = readFileSync(file as string, "utf8");
    for (const secret of [
      "ghp_supersecret",
      "hunter2",
      "tok-in-env",
      "abcdefgh12345678",
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUA",
      "ghp_abcdefghijklmnopqrstuvwxyz0123",
      "errpass1",
    ])
      expect(text, secret).not.toContain(secret);
    expect(text).toContain('"host":"p620"');
    expect(text).toContain('"tokenSource":"GITHUB_TOKEN"');
    expect(text).toContain('"identityFile":"/root/.ssh/id_ed25519"');
    expect(text).toContain("[redacted]");
    // The caller's object is not changed by the redaction.
    expect(request.token).toBe("ghp_supersecret");
  });

  it("prunes old run logs down to NIX_DEPLOY_LOG_KEEP, this run's included, and nothing else", () => {
    const dir = scratch();
    const logs = join(dir, "nix-deploy", "logs");
    mkdirSync(logs, { recursive: true });
    for (let i = 0; i < 8; i++)
      writeFileSync(join(logs, `nix-deploy-2026-01-0${i + 1}T00-00-00.000Z-1.log`), `old ${i}\n`);
    writeFileSync(join(logs, "notes.txt"), "mine\n");
    const { file } = createLogger({ env: { XDG_STATE_HOME: dir, NIX_DEPLOY_LOG_KEEP: "3" } });
    const left = readdirSync(logs).sort();
    expect(left).toEqual([
      "nix-deploy-2026-01-07T00-00-00.000Z-1.log",
      "nix-deploy-2026-01-08T00-00-00.000Z-1.log",
      (file as string).slice(logs.length + 1),
      "notes.txt",
    ]);
  });

  it("ignores a NIX_DEPLOY_LOG_KEEP that would delete everything", () => {
    const dir = scratch();
    const logs = join(dir, "nix-deploy", "logs");
    mkdirSync(logs, { recursive: true });
    for (let i = 0; i < 3; i++)
      writeFileSync(join(logs, `nix-deploy-2026-01-0${i + 1}T00-00-00.000Z-1.log`), "");
    createLogger({ env: { XDG_STATE_HOME: dir, NIX_DEPLOY_LOG_KEEP: "0" } });
    expect(readdirSync(logs)).toHaveLength(Math.min(4, DEFAULT_LOG_KEEP));
  });
});
