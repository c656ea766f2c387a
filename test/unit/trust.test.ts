import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/engine/errors.js";
import { parseInventory } from "../../src/engine/fleet/inventory.js";
import { RemoteRunner } from "../../src/engine/remote/ssh.js";
import {
  checkPrivateDir,
  checkSshFile,
  checkSshOption,
  isInside,
  realPathOf,
  servedFlake,
  sshFileRoots,
} from "../../src/engine/trust.js";

function refusal(action: () => unknown): UserError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error("expected a refusal");
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nix-deploy-trust-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("isInside", () => {
  it("tells a path inside a root from a sibling that shares its prefix", () => {
    expect(isInside("/srv/flake", "/srv/flake")).toBe(true);
    expect(isInside("/srv/flake", "/srv/flake/hosts/a.nix")).toBe(true);
    expect(isInside("/srv/flake", "/srv/flake-evil/a.nix")).toBe(false);
    expect(isInside("/srv/flake", "/srv")).toBe(false);
    expect(isInside("/srv/flake", "/srv/flake/../other")).toBe(false);
    expect(isInside("/srv/flake", "/srv/flake/..foo")).toBe(true);
  });
});

describe("servedFlake: a tool call names only a flake the server serves", () => {
  it("uses the server's flake when none is named, and accepts it by any spelling or link", () => {
    const flake = join(dir, "fleet");
    mkdirSync(flake);
    symlinkSync(flake, join(dir, "link"));
    const served = { flake, allowedFlakes: [] };
    expect(servedFlake(served, undefined)).toBe(flake);
    expect(servedFlake(served, `${flake}/`)).toBe(flake);
    expect(servedFlake(served, join(dir, "fleet", "..", "fleet"))).toBe(flake);
    expect(servedFlake(served, join(dir, "link"))).toBe(flake);
  });

  it("refuses any other directory, naming the one it serves and how to serve another", () => {
    const flake = join(dir, "fleet");
    const other = join(dir, "attacker");
    mkdirSync(flake);
    mkdirSync(other);
    const error = refusal(() => servedFlake({ flake, allowedFlakes: [] }, other));
    expect(error.message).toContain(`the flake ${other} is not one this server serves`);
    expect(error.message).toContain(flake);
    expect(error.remedy).toMatch(/--allow-flake/);
    expect(() => servedFlake({ flake, allowedFlakes: [] }, "/")).toThrow(UserError);
    expect(() => servedFlake({ flake, allowedFlakes: [] }, join(dir, "fleet-evil"))).toThrow(UserError);
  });

  it("accepts a flake the person starting the server allowed", () => {
    const flake = join(dir, "fleet");
    const second = join(dir, "lab");
    mkdirSync(flake);
    mkdirSync(second);
    expect(servedFlake({ flake, allowedFlakes: [second] }, second)).toBe(second);
  });
});

describe("inventory ssh options", () => {
  const dangerous = [
    "ProxyCommand=sh -c 'touch /tmp/pwned'",
    "proxycommand=touch /tmp/pwned",
    "PROXYCOMMAND=touch /tmp/pwned",
    "LocalCommand=touch /tmp/pwned",
    "PermitLocalCommand=yes",
    "KnownHostsCommand=/bin/sh -c id",
    'Match=exec "touch /tmp/pwned"',
    "RemoteCommand=reboot",
    "ProxyUseFdpass=yes",
    "PKCS11Provider=/tmp/evil.so",
    "SecurityKeyProvider=/tmp/evil.so",
    "ControlPath=/tmp/evil.sock",
    "ControlMaster=yes",
    "UserKnownHostsFile=/tmp/known_hosts",
    "GlobalKnownHostsFile=/tmp/known_hosts",
    "HostKeyAlias=trusted-host",
    "SendEnv=GITHUB_TOKEN",
    "SetEnv=LD_PRELOAD=/tmp/evil.so",
    "ForwardAgent=yes",
    "LocalForward=8080 localhost:80",
    "RemoteForward=8080 localhost:80",
    "DynamicForward=1080",
    "Tunnel=yes",
    "IdentityAgent=/tmp/agent.sock",
    "Include=/tmp/ssh_config",
    "BatchMode=no",
    "ProxyJump=-oProxyCommand=touch /tmp/pwned",
    "ProxyJump=host;touch /tmp/pwned",
  ];
  for (const option of dangerous) {
    it(`refuses ${option}`, () => {
      const error = refusal(() => checkSshOption(option, "hosts.p620.sshOptions.0"));
      expect(error.message).toMatch(/^hosts\.p620\.sshOptions\.0: /);
      expect(error.remedy).toBeTruthy();
    });
  }

  it("refuses StrictHostKeyChecking=no unless the inventory acknowledges it", () => {
    const error = refusal(() => checkSshOption("StrictHostKeyChecking=no", "defaults.sshOptions.0"));
    expect(error.message).toMatch(/defaults\.sshOptions\.0: StrictHostKeyChecking=no/);
    expect(error.remedy).toMatch(/acceptUnknownHostKeys/);
    expect(() => checkSshOption("stricthostkeychecking=off", "x")).toThrow(UserError);
    expect(() => checkSshOption("StrictHostKeyChecking=no", "x", true)).not.toThrow();
  });

  it("accepts the options fleets use for tuning and jump hosts", () => {
    for (const option of [
      "Compression=yes",
      "ServerAliveInterval=15",
      "ConnectionAttempts=3",
      "ProxyJump=admin@bastion.lan:2222",
      "ProxyJump=jump1,admin@jump2",
      "Ciphers=aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
      "StrictHostKeyChecking=accept-new",
      "IdentitiesOnly=yes",
      "AddressFamily=inet6",
    ]) {
      expect(() => checkSshOption(option, "x"), option).not.toThrow();
    }
  });

  it("are checked when an inventory is read, naming the field", () => {
    const read = (inventory: unknown) => () => parseInventory(JSON.stringify(inventory), "nix-deploy.json");
    const error = refusal(
      read({ hosts: { p620: { sshOptions: ["Compression=yes", "ProxyCommand=nc %h %p"] } } }),
    );
    expect(error.message).toMatch(
      /nix-deploy\.json is not a valid inventory:\nhosts\.p620\.sshOptions\.1: .*ProxyCommand/,
    );
    expect(read({ defaults: { sshOptions: ["LocalCommand=id"] } })).toThrow(/defaults\.sshOptions\.0/);
    expect(read({ hosts: { p620: { sshOptions: ["StrictHostKeyChecking=no"] } } })).toThrow(
      /hosts\.p620\.sshOptions\.0: StrictHostKeyChecking=no/,
    );
    expect(
      read({ hosts: { p620: { sshOptions: ["StrictHostKeyChecking=no"], acceptUnknownHostKeys: true } } }),
    ).not.toThrow();
    expect(
      read({
        defaults: { acceptUnknownHostKeys: true },
        hosts: { p620: { sshOptions: ["StrictHostKeyChecking=no"] } },
      }),
    ).not.toThrow();
  });
});

describe("inventory key and known_hosts files", () => {
  it("are accepted inside the flake and in ~/.ssh, refused elsewhere, through links too", () => {
    const flake = join(dir, "fleet");
    const home = join(dir, "home");
    mkdirSync(join(flake, "keys"), { recursive: true });
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(flake, "keys", "deploy"), "key");
    writeFileSync(join(home, ".ssh", "id_ed25519"), "key");
    writeFileSync(join(dir, "elsewhere"), "key");
    symlinkSync(join(dir, "elsewhere"), join(flake, "keys", "link"));
    const roots = sshFileRoots(flake, undefined, home);
    expect(checkSshFile(join(flake, "keys", "deploy"), "defaults.identityFile", roots)).toBe(
      join(flake, "keys", "deploy"),
    );
    expect(() => checkSshFile(join(home, ".ssh", "id_ed25519"), "x", roots)).not.toThrow();
    const outside = refusal(() => checkSshFile(join(dir, "elsewhere"), "hosts.p620.knownHostsFile", roots));
    expect(outside.message).toMatch(/^hosts\.p620\.knownHostsFile: .* is outside the flake and ~\/\.ssh/);
    const linked = refusal(() => checkSshFile(join(flake, "keys", "link"), "defaults.identityFile", roots));
    expect(linked.message).toContain(`it leads to ${realPathOf(join(dir, "elsewhere"))}`);
    expect(() => checkSshFile("/tmp/../etc/ssh/ssh_host_ed25519_key", "x", roots)).toThrow(UserError);
  });

  it("may sit beside an inventory file the person starting the server named", () => {
    const flake = join(dir, "fleet");
    const ops = join(dir, "ops");
    mkdirSync(flake);
    mkdirSync(ops);
    expect(() =>
      checkSshFile(join(ops, "key"), "x", sshFileRoots(flake, ops, join(dir, "home"))),
    ).not.toThrow();
  });
});

describe("the ssh control directory", () => {
  const asRoot = process.getuid?.() === 0;

  it("is refused when group or others can write to it (a predictable name another user made first)", async () => {
    const controlDir = join(dir, "nix-deploy-ssh-0");
    mkdirSync(controlDir);
    chmodSync(controlDir, 0o777);
    const runner = new RemoteRunner({ connectTimeoutSec: 1, controlDir, controlPersistSec: 1 });
    await expect(runner.run({ destination: "127.0.0.1", port: 1, options: [] }, ["true"])).rejects.toThrow(
      /the ssh control directory .* is not private .*mode 777/,
    );
    expect(refusal(() => checkPrivateDir(controlDir, "d")).remedy).toMatch(/chmod 700/);
  });

  it.skipIf(!asRoot)("is refused when another user owns it (needs root to chown)", () => {
    const controlDir = join(dir, "planted");
    mkdirSync(controlDir, { mode: 0o700 });
    chownSync(controlDir, 65534, 65534);
    expect(() => checkPrivateDir(controlDir, "d")).toThrow(/owner uid 65534/);
  });

  it("is refused when it is a link", () => {
    mkdirSync(join(dir, "real"), { mode: 0o700 });
    symlinkSync(join(dir, "real"), join(dir, "link"));
    expect(() => checkPrivateDir(join(dir, "link"), "d")).toThrow(/not a directory/);
  });

  it("is by default a fresh private directory, never a predictable name, removed at close", async () => {
    const runner = new RemoteRunner({ connectTimeoutSec: 1, controlDir: "", controlPersistSec: 1 });
    const args = runner.optionArgs({ destination: "127.0.0.1", port: 1, options: [] });
    const made = runner.settings.controlDir;
    expect(made).toMatch(/nix-deploy-ssh-[A-Za-z0-9]{6}$/);
    expect(args).toContain(`ControlPath=${join(made, "%C")}`);
    expect(() => checkPrivateDir(made, "d")).not.toThrow();
    await runner.close();
    expect(() => checkPrivateDir(made, "d")).toThrow();
  });
});
