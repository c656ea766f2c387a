import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/engine/errors.js";
import { loadInventory, parseInventory } from "../../src/engine/fleet/inventory.js";

function errorOf(text: string): string {
  try {
    parseInventory(text, "nix-deploy.json");
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error("expected the inventory to be rejected");
}

describe("inventory", () => {
  it("accepts a full inventory", () => {
    const inventory = parseInventory(
      JSON.stringify({
        defaults: { user: "root", port: 22, criticalServices: ["sshd.service"] },
        hosts: {
          p620: {
            target: "admin@p620.lan",
            port: 2222,
            identityFile: "keys/deploy",
            knownHostsFile: "known_hosts",
            sshOptions: ["Compression=yes"],
            profile: "/nix/var/nix/profiles/system",
            tags: ["workstation"],
            criticalServices: ["prometheus.service"],
          },
        },
      }),
      "nix-deploy.json",
    );
    expect(inventory.hosts?.p620?.port).toBe(2222);
    expect(inventory.hosts?.p620?.tags).toEqual(["workstation"]);
  });

  it("names the field of a bad port", () => {
    expect(errorOf('{"hosts":{"p620":{"port":"abc"}}}')).toMatch(/hosts\.p620\.port: /);
    expect(errorOf('{"hosts":{"p620":{"port":70000}}}')).toMatch(/hosts\.p620\.port: .*65535/);
  });

  it("names an unknown field, so a typo is not silently ignored", () => {
    expect(errorOf('{"hosts":{"p620":{"targt":"root@x"}}}')).toMatch(/hosts\.p620.*targt/);
  });

  it("refuses an ssh target that ssh would read as an option", () => {
    expect(errorOf('{"hosts":{"p620":{"target":"-oProxyCommand=touch /tmp/x"}}}')).toMatch(
      /hosts\.p620\.target: .*not starting with '-'/,
    );
  });

  it("refuses shell metacharacters in a target and newlines in ssh options", () => {
    expect(errorOf('{"hosts":{"p620":{"target":"root@host;reboot"}}}')).toMatch(/hosts\.p620\.target/);
    expect(errorOf('{"hosts":{"p620":{"sshOptions":["ProxyCommand=x\\nUser=y"]}}}')).toMatch(
      /hosts\.p620\.sshOptions\.0/,
    );
  });

  it("refuses a host name that is not a plain name", () => {
    expect(errorOf('{"hosts":{"p620; reboot":{}}}')).toMatch(/hosts.*host name/);
  });

  it("says when the file is not JSON", () => {
    expect(errorOf("{ hosts: ")).toMatch(/nix-deploy.json is not valid JSON/);
  });

  it("treats a missing inventory as empty and reads one at the flake root", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nix-deploy-inv-"));
    expect((await loadInventory(dir)).inventory).toEqual({});
    writeFileSync(join(dir, "nix-deploy.json"), '{"hosts":{"razer":{"tags":["laptop"]}}}');
    const loaded = await loadInventory(dir);
    expect(loaded.path).toBe(join(dir, "nix-deploy.json"));
    expect(loaded.inventory.hosts?.razer?.tags).toEqual(["laptop"]);
    await expect(loadInventory(dir, join(dir, "missing.json"))).rejects.toThrow(/cannot read the inventory/);
    rmSync(dir, { recursive: true, force: true });
  });
});
