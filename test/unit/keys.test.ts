import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/engine/errors.js";
import { parseInventory } from "../../src/engine/fleet/inventory.js";
import { hostScript } from "../../src/engine/host/scripts.js";
import { keyContent } from "../../src/engine/keys/content.js";
import { type HostKey, hostKeys } from "../../src/engine/keys/key.js";
import { secretToolsChecks, secretToolsOf } from "../../src/engine/keys/secret-tools.js";

const dir = mkdtempSync(join(tmpdir(), "nix-deploy-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function inventoryError(keys: Record<string, unknown>): string {
  try {
    parseInventory(JSON.stringify({ hosts: { p620: { keys } } }), "nix-deploy.json");
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error("expected the inventory to be refused");
}

describe("inventory keys", () => {
  it.each([
    ["../x", "it contains '/'"],
    ["a/b", "it contains '/'"],
    ["a\nb", "it contains a newline"],
    ["", "it is empty"],
    ["..", "it is '.' or '..'"],
  ])("refuses the key name %j, naming it and the rule", (name, rule) => {
    const message = inventoryError({ [name]: { text: "x" } });
    expect(message).toContain(
      `hosts.p620.keys.${JSON.stringify(name)}: the key name ${JSON.stringify(name)}`,
    );
    expect(message).toContain(rule);
    expect(message).toContain("a key name is a file name");
    // The message stays on its lines: a name's newline cannot start a line of its own.
    expect(message.split("\n")).toHaveLength(2);
  });

  it("wants exactly one source, an argument list for keyCommand, an octal mode and a known uploadAt", () => {
    expect(inventoryError({ a: { text: "x", keyFile: "f" } })).toContain(
      "hosts.p620.keys.a: a key has exactly one of text, keyFile and keyCommand",
    );
    expect(inventoryError({ a: {} })).toContain("exactly one of text, keyFile and keyCommand");
    expect(inventoryError({ a: { keyCommand: "pass show db" } })).toContain("hosts.p620.keys.a.keyCommand");
    expect(inventoryError({ a: { text: "x", permissions: "rw-------" } })).toContain(
      "hosts.p620.keys.a.permissions: permissions are an octal mode",
    );
    expect(inventoryError({ a: { text: "x", uploadAt: "later" } })).toContain("hosts.p620.keys.a.uploadAt");
    expect(inventoryError({ a: { text: "x", destDir: "/run/keys/../../etc" } })).toContain(
      "destDir cannot contain '..'",
    );
    expect(inventoryError({ a: { text: "x", user: "root;reboot" } })).toContain("hosts.p620.keys.a.user");
  });

  it("fills colmena's defaults, and a host's own key replaces a default of the same name", () => {
    const inventory = parseInventory(
      JSON.stringify({
        defaults: { keys: { shared: { text: "d" }, token: { text: "default" } } },
        hosts: {
          p620: {
            keys: { token: { keyCommand: ["pass", "show", "token"], user: "nginx", permissions: "640" } },
          },
        },
      }),
      "nix-deploy.json",
    );
    const keys = hostKeys(inventory, "p620", dir, [dir]);
    expect(keys.map((k) => [k.name, k.field])).toEqual([
      ["shared", "defaults.keys.shared"],
      ["token", "hosts.p620.keys.token"],
    ]);
    expect(keys[0]).toMatchObject({
      destDir: "/run/keys",
      user: "root",
      group: "root",
      permissions: "0600",
      uploadAt: "pre-activation",
    });
    expect(keys[1]).toMatchObject({
      source: { kind: "keyCommand", argv: ["pass", "show", "token"], cwd: dir },
      user: "nginx",
      permissions: "0640",
    });
  });

  it("refuses a keyFile outside the flake and ~/.ssh, links included", () => {
    const outside = mkdtempSync(join(tmpdir(), "nix-deploy-elsewhere-"));
    try {
      writeFileSync(join(outside, "secret"), "s");
      symlinkSync(join(outside, "secret"), join(dir, "link"));
      const inventory = parseInventory(
        JSON.stringify({ hosts: { p620: { keys: { db: { keyFile: "link" } } } } }),
        "nix-deploy.json",
      );
      expect(() => hostKeys(inventory, "p620", dir, [dir])).toThrow(
        /hosts\.p620\.keys\.db\.keyFile: .*link is outside the flake and ~\/\.ssh \(it leads to .*secret\)/,
      );
    } finally {
      rmSync(outside, { recursive: true, force: true });
      rmSync(join(dir, "link"), { force: true });
    }
  });
});

describe("a key's content", () => {
  const key = (source: HostKey["source"]): HostKey => ({
    name: "db",
    source,
    destDir: "/run/keys",
    user: "root",
    group: "root",
    permissions: "0600",
    uploadAt: "pre-activation",
    field: "hosts.p620.keys.db",
  });

  it("is its text, the bytes of its file, or what its keyCommand prints (run without a shell)", async () => {
    expect((await keyContent(key({ kind: "text", text: "s3cret\n" }))).toString()).toBe("s3cret\n");
    const bytes = Buffer.from([0, 1, 2, 255, 10]);
    writeFileSync(join(dir, "binary.key"), bytes);
    expect(await keyContent(key({ kind: "keyFile", path: join(dir, "binary.key") }))).toEqual(bytes);
    const printed = await keyContent(
      key({ kind: "keyCommand", argv: ["printf", "%s|", "a b", "$(id)"], cwd: dir }),
    );
    expect(printed.toString()).toBe("a b|$(id)|");
    const cwd = await keyContent(key({ kind: "keyCommand", argv: ["pwd"], cwd: dir }));
    expect(cwd.toString().trim()).toBe(dir);
  });

  it("names the key and the exit status of a failed keyCommand, never its output", async () => {
    const failing = key({
      kind: "keyCommand",
      argv: ["sh", "-c", "echo leaked-stdout; echo leaked-stderr >&2; exit 7"],
      cwd: dir,
    });
    const error = await keyContent(failing).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      "key db: its keyCommand (sh) exited with status 7; its output is not shown, as it may hold the secret",
    );
    expect(JSON.stringify(error)).not.toContain("leaked");
    const missing = await keyContent(
      key({ kind: "keyCommand", argv: ["no-such-program-xyz"], cwd: dir }),
    ).catch((e: Error) => e);
    expect((missing as Error).message).toContain("its keyCommand (no-such-program-xyz) could not be started");
    const unreadable = await keyContent(key({ kind: "keyFile", path: join(dir, "absent") })).catch(
      (e: Error) => e,
    );
    expect((unreadable as Error).message).toBe(
      `key db: cannot read its keyFile ${join(dir, "absent")} (ENOENT)`,
    );
  });
});

/** upload-key.sh run here with sh, as the host runs it: content on stdin. */
function upload(args: string[], content: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync("sh", ["-c", hostScript("upload-key"), "upload-key", ...args], {
    input: content,
    encoding: "utf8",
    env,
  });
}

const isRoot = process.getuid?.() === 0;
const nobody = spawnSync("getent", ["passwd", "nobody"], { encoding: "utf8" }).stdout.split(":");
const nobodyGroup = spawnSync("getent", ["group", nobody[3] ?? "65534"], { encoding: "utf8" }).stdout.split(
  ":",
)[0];

describe("upload-key.sh", () => {
  it("writes the key with its mode, creating a missing destDir 0755", () => {
    const dest = join(dir, "new", "keys");
    const me = spawnSync("id", ["-un"], { encoding: "utf8" }).stdout.trim();
    const group = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
    const run = upload([dest, "api.token", me, group, "0640"], "tok\nen");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(readFileSync(join(dest, "api.token"), "utf8")).toBe("tok\nen");
    expect(statSync(join(dest, "api.token")).mode & 0o7777).toBe(0o640);
    expect(statSync(dest).mode & 0o777).toBe(0o755);
    expect(readdirSync(dest)).toEqual(["api.token"]);
  });

  it.skipIf(!isRoot)("sets the owner (as root, as on the host)", () => {
    const dest = join(dir, "owned");
    const run = upload([dest, "db", "nobody", nobodyGroup as string, "400"], "pw");
    expect(run.status, run.stderr).toBe(0);
    const info = statSync(join(dest, "db"));
    expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([Number(nobody[2]), Number(nobody[3]), 0o400]);
  });

  it("refuses an unknown user or group before writing anything, naming it", () => {
    const dest = join(dir, "never");
    const user = upload([dest, "db", "no-such-user-xyz", "root", "0600"], "pw");
    expect([user.status, user.stderr.trim()]).toEqual([
      3,
      "the user no-such-user-xyz does not exist on this host",
    ]);
    const group = upload([dest, "db", "root", "no-such-group-xyz", "0600"], "pw");
    expect([group.status, group.stderr.trim()]).toEqual([
      4,
      "the group no-such-group-xyz does not exist on this host",
    ]);
    expect(existsSync(dest)).toBe(false);
  });

  it("renames a complete file into place: a reader sees the old key or the whole new one, never more readable", async () => {
    const dest = join(dir, "atomic");
    mkdirSync(dest);
    writeFileSync(join(dest, "db"), "old");
    chmodSync(join(dest, "db"), 0o640);
    const oldFd = openSync(join(dest, "db"), "r");
    const child = spawn(
      "sh",
      ["-c", hostScript("upload-key"), "upload-key", dest, "db", "root", "root", "0640"],
      {
        stdio: ["pipe", "ignore", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.stdin.write("first half ");
    // While the content is still arriving, the key is the old one and the partial file is private.
    let temporary: string | undefined;
    for (let i = 0; i < 200 && !temporary; i++) {
      temporary = readdirSync(dest).find((f) => f !== "db");
      if (!temporary) await new Promise((r) => setTimeout(r, 10));
    }
    expect(temporary).toMatch(/^\.db\.upload-\d+$/);
    expect(statSync(join(dest, temporary as string)).mode & 0o077 & ~0o040).toBe(0);
    expect(readFileSync(join(dest, "db"), "utf8")).toBe("old");
    child.stdin.end("second half");
    expect(await exited).toBe(0);
    expect(readFileSync(join(dest, "db"), "utf8")).toBe("first half second half");
    expect(readdirSync(dest)).toEqual(["db"]);
    // The old file was replaced, not rewritten: what was open still reads the old key.
    const buffer = Buffer.alloc(10);
    expect(buffer.subarray(0, readSync(oldFd, buffer)).toString()).toBe("old");
  });

  it("reloads or restarts the key's unit afterwards, and says when that failed with the key in place", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    const calls = join(dir, "systemctl-calls");
    writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${calls}\n[ "$3" != broken.service ]\n`);
    chmodSync(join(bin, "systemctl"), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const dest = join(dir, "with-action");
    expect(upload([dest, "tls", "root", "root", "0600", "reload", "nginx.service"], "k", env).status).toBe(0);
    expect(upload([dest, "tls", "root", "root", "0600", "restart", "app.service"], "k", env).status).toBe(0);
    const broken = upload([dest, "tls", "root", "root", "0600", "restart", "broken.service"], "k2", env);
    expect([broken.status, broken.stderr.trim()]).toEqual([5, "systemctl try-restart broken.service failed"]);
    expect(readFileSync(join(dest, "tls"), "utf8")).toBe("k2");
    expect(readFileSync(calls, "utf8").trim().split("\n")).toEqual([
      "try-reload-or-restart -- nginx.service",
      "try-restart -- app.service",
      "try-restart -- broken.service",
    ]);
  });
});

describe("sops-nix and agenix", () => {
  it("are found among the flake's inputs, and preflight says their secrets need no upload", () => {
    const flake = join(dir, "flake");
    mkdirSync(flake, { recursive: true });
    writeFileSync(
      join(flake, "flake.lock"),
      JSON.stringify({
        root: "root",
        nodes: { root: { inputs: { nixpkgs: "nixpkgs", "sops-nix": "sops-nix", agenix: "agenix_2" } } },
        version: 7,
      }),
    );
    expect(secretToolsOf(flake)).toEqual(["sops-nix", "agenix"]);
    expect(secretToolsChecks(["sops-nix"])[0]?.detail).toContain(
      "the flake uses sops-nix: those secrets are decrypted on each host at activation with its ssh host key and need no upload",
    );
    expect(secretToolsOf(join(dir, "no-flake"))).toEqual([]);
    expect(secretToolsChecks([])).toEqual([]);
  });
});
