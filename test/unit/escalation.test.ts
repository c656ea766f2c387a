import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyOf } from "../../src/engine/deploy/access-checks.js";
import { parseInventory } from "../../src/engine/fleet/inventory.js";
import { escalate, escalationRefusal } from "../../src/engine/remote/escalation.js";

const result = (exitCode: number, stderr: string) => ({
  command: "ssh",
  exitCode,
  stdout: "",
  stderr,
  timedOut: false,
});
const context = { host: "p510", user: "deploy", withPassword: false };

describe("gaining root on a host", () => {
  it("prefixes the escalation command, and hands a password to sudo on stdin, never in argv", () => {
    expect(escalate(["sh", "-c", "x"], [], undefined, "p510")).toEqual({ argv: ["sh", "-c", "x"] });
    expect(escalate(["true"], ["sudo", "-n"], undefined, "p510")).toEqual({ argv: ["sudo", "-n", "true"] });
    const withPassword = escalate(["true"], ["sudo", "-n", "-H"], "pw", "p510");
    expect(withPassword).toEqual({ argv: ["sudo", "-S", "-p", "", "-H", "true"], input: "pw\n" });
    expect(withPassword.argv.join(" ")).not.toContain("pw");
    expect(() => escalate(["true"], ["doas"], "pw", "p510")).toThrow(
      "p510 gains root with doas, which cannot read a password from nix-deploy",
    );
  });

  it("names a refusal and its remedy; the command's own failure is not one", () => {
    const wanted = escalationRefusal(result(1, "sudo: a password is required\n"), ["sudo", "-n"], context);
    expect(wanted?.message).toBe(
      'sudo on p510 wants a password for deploy, and nix-deploy never waits at a prompt ("sudo: a password is required")',
    );
    expect(wanted?.remedy).toMatch(
      /NOPASSWD.*--ask-sudo-password \(the MCP tools never ask for a password\)$/,
    );
    expect(
      escalationRefusal(result(1, "sudo: 1 incorrect password attempt\n"), ["sudo", "-n"], {
        ...context,
        withPassword: true,
      })?.message,
    ).toMatch(/^sudo on p510 did not accept the password for deploy/);
    expect(
      escalationRefusal(result(1, "deploy is not in the sudoers file.\n"), ["sudo", "-n"], context)?.message,
    ).toMatch(/^deploy may not gain root with sudo on p510/);
    expect(escalationRefusal(result(127, "sh: 1: doas: not found\n"), ["doas"], context)?.message).toBe(
      "p510 has no doas for deploy to gain root with",
    );
    expect(escalationRefusal(result(1, "activation failed\n"), ["sudo", "-n"], context)).toBeUndefined();
    expect(escalationRefusal(result(1, "sudo: a password is required\n"), [], context)).toBeUndefined();
  });
});

describe("the inventory's ways in", () => {
  it("takes user, sudo, local, signingKey and buildHost, and refuses a shell string or a local host with an address", () => {
    const inventory = parseInventory(
      JSON.stringify({
        defaults: { user: "deploy", sudo: ["sudo", "-n"] },
        hosts: { p620: { local: true }, p510: { sudo: ["doas"], buildHost: "p620", signingKey: "k" } },
      }),
      "nix-deploy.json",
    );
    expect(inventory.hosts?.p510?.sudo).toEqual(["doas"]);
    expect(() =>
      parseInventory(JSON.stringify({ hosts: { a: { sudo: ["sudo -n"] } } }), "nix-deploy.json"),
    ).toThrow(/hosts\.a\.sudo: the escalation command is one of sudo, doas, run0/);
    expect(() =>
      parseInventory(JSON.stringify({ hosts: { a: { sudo: ["sh", "-c"] } } }), "nix-deploy.json"),
    ).toThrow(/hosts\.a\.sudo/);
    expect(() =>
      parseInventory(JSON.stringify({ hosts: { a: { local: true, target: "root@a" } } }), "nix-deploy.json"),
    ).toThrow(/hosts\.a: local: true is this machine, reached without ssh, but target says root@a/);
  });
});

describe("a signing key's public half", () => {
  const dir = mkdtempSync(join(tmpdir(), "nix-deploy-key-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is the secret's last 32 bytes under its name, from a private file only", () => {
    const secret = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) secret[i] = i;
    const file = join(dir, "key");
    writeFileSync(file, `cache-1:${secret.toString("base64")}`);
    chmodSync(file, 0o600);
    expect(publicKeyOf(file)).toBe(`cache-1:${secret.subarray(32).toString("base64")}`);
    chmodSync(file, 0o644);
    expect(() => publicKeyOf(file)).toThrow(/is not a private file/);
    writeFileSync(file, "not a key");
    chmodSync(file, 0o600);
    expect(() => publicKeyOf(file)).toThrow(/is not a Nix secret key/);
  });
});
