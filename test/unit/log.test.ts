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
import { createLogger, DEFAULT_LOG_KEEP, redactString, stateDir } from "../../src/engine/log.js";

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

  it("redacts NAME=secret pairs, 40-hex tokens and credentials in URLs, and keeps what is not secret", () => {
    const dir = scratch();
    const { log, file } = createLogger({ env: { XDG_STATE_HOME: dir } });
    const classic = "0123456789abcdef0123456789abcdef01234567";
    const commit = "89abcdef0123456789abcdef0123456789abcdef";
    log.info(
      {
        stderr: `env: GITHUB_TOKEN=envtoken99 DB_PASSWORD='quoted pass' --api-key=k3y-value secret: s3cr3tval`,
        argv: ["git", "push", "https://x-access-token:urlpass77@github.com/acme/fleet.git"],
        remote: "https://tokenasuser88@github.com/acme/fleet",
        classic: `auth with ${classic}`,
        commit,
        target: "ssh://root@127.0.0.1:2222",
        store: "/nix/store/m4qw8rs6rns2kgrw9acwg43ifpnjmjga-nixos-system-p620-fixture",
      },
      "ran",
    );
    const text = readFileSync(file as string, "utf8");
    for (const secret of [
      "envtoken99",
      "quoted pass",
      "k3y-value",
      "s3cr3tval",
      "urlpass77",
      "tokenasuser88",
      classic,
    ])
      expect(text, secret).not.toContain(secret);
    expect(text).toContain("GITHUB_TOKEN=[redacted]");
    expect(text).toContain("https://x-access-token:[redacted]@github.com/acme/fleet.git");
    expect(text).toContain(`"commit":"${commit}"`);
    expect(text).toContain("ssh://root@127.0.0.1:2222");
    expect(text).toContain("m4qw8rs6rns2kgrw9acwg43ifpnjmjga-nixos-system-p620-fixture");
  });

  it("redacts in time linear in the input, whatever the input holds", () => {
    const size = 1 << 20;
    const time = (text: string) => {
      const start = process.hrtime.bigint();
      redactString(text);
      return Number(process.hrtime.bigint() - start);
    };
    const ordinary = "deploying p620: copying 12 paths, activating generation 42\n".repeat(size / 60);
    const baseline = Math.max(time(ordinary), time(ordinary));
    for (const hostile of [
      "a".repeat(size),
      "a.".repeat(size / 2),
      "token".repeat(size / 5),
      "passwordpassword=".repeat(size / 17),
      "https://".repeat(size / 8),
      "https://a:".repeat(size / 10),
      "-----BEGIN PRIVATE KEY-----".repeat(size / 27),
      "0".repeat(size),
      "Bearer ".repeat(size / 7),
    ]) {
      // A bound that a linear scan meets with a wide margin and a quadratic one misses by far.
      expect(time(hostile) / baseline, hostile.slice(0, 20)).toBeLessThan(50);
    }
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
