import { describe, expect, it } from "vitest";
import { parseNix } from "../../src/engine/analysis/parser.js";
import { UserError } from "../../src/engine/errors.js";
import { addFlakeEntry, inputRef } from "../../src/engine/onboard/flake-edit.js";
import { type HostSpec, renderHostFiles } from "../../src/engine/onboard/templates.js";

const spec: HostSpec = {
  name: "newbox",
  system: "x86_64-linux",
  boot: "bios",
  gpu: "amd",
  disk: "/dev/disk/by-id/ata-WDC_WD10EZEX_WD-1",
  user: "alice",
  services: [],
};
const inputs = ["nixpkgs", "disko", "home-manager"];
const add = (text: string, names = inputs) =>
  addFlakeEntry(text, spec, (args) => ({
    nixpkgs: inputRef(args, "nixpkgs") as string,
    ...Object.fromEntries(
      (["disko", "home-manager"] as const)
        .filter((n) => names.includes(n))
        .map((n) => [n === "disko" ? "disko" : "homeManager", inputRef(args, n)]),
    ),
  }));
const parses = (text: string) => expect(parseNix(text).errors).toEqual([]);

describe("adding a host to nixosConfigurations in flake.nix", () => {
  it("inserts into an attribute set, with disko and home-manager from the flake's own inputs", () => {
    const flake = `{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";
  outputs = { self, nixpkgs, disko, home-manager, ... }: {
    nixosConfigurations = {
      old = nixpkgs.lib.nixosSystem { modules = [ ./old.nix ]; };
    };
  };
}
`;
    const out = add(flake);
    parses(out);
    expect(out).toContain(`      old = nixpkgs.lib.nixosSystem { modules = [ ./old.nix ]; };
      newbox = nixpkgs.lib.nixosSystem {
        modules = [
          disko.nixosModules.disko
          ./hosts/newbox/disko.nix
          ./hosts/newbox/configuration.nix
          home-manager.nixosModules.home-manager
          {
            home-manager.useGlobalPkgs = true;
            home-manager.useUserPackages = true;
            home-manager.users.alice = import ./hosts/newbox/home.nix;
          }
        ];
      };
    };`);
  });

  it("reaches inputs through inputs@, and writes one line per host where the flake does", () => {
    const flake = `{
  outputs = inputs@{ self, ... }: {
    nixosConfigurations.old = inputs.nixpkgs.lib.nixosSystem { modules = [ ]; };
  };
}
`;
    const out = add(flake, ["nixpkgs"]);
    parses(out);
    expect(out).toContain(
      "    nixosConfigurations.newbox = inputs.nixpkgs.lib.nixosSystem {\n      modules = [\n        ./hosts/newbox/configuration.nix\n      ];\n    };",
    );
  });

  it("adds to the literal set on the right of //, and to an empty set", () => {
    const merged = `{ outputs = { nixpkgs, ... }: { nixosConfigurations = (import ./hosts.nix) // { }; }; }`;
    const out = add(merged, ["nixpkgs"]);
    parses(out);
    expect(out).toMatch(/\/\/ \{\n {2}newbox = nixpkgs\.lib\.nixosSystem \{/);
  });

  it("refuses a set built by code, with the attribute to add by hand", () => {
    const computed = `{ outputs = { nixpkgs, ... }: { nixosConfigurations = builtins.listToAttrs (map mk [ "a" ]); }; }`;
    let error: unknown;
    try {
      add(computed, ["nixpkgs"]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(
      /builds nixosConfigurations in a way add_host does not edit/,
    );
    expect((error as UserError).remedy).toContain("newbox = nixpkgs.lib.nixosSystem {");
  });

  it("leaves the partitions to disko when the flake has it, and declares them itself when not", () => {
    const paths = (disko: boolean) =>
      renderHostFiles(spec, { nixpkgs: "nixpkgs", ...(disko ? { disko: "disko" } : {}) }).map((f) => f.path);
    expect(paths(true)).not.toContain("hosts/newbox/partitions.nix");
    expect(paths(false)).toContain("hosts/newbox/partitions.nix");
    const partitions = renderHostFiles(spec, { nixpkgs: "nixpkgs" }).find((f) =>
      f.path.endsWith("partitions.nix"),
    );
    expect(partitions?.text).toContain(`boot.loader.grub.device = "${spec.disk}";`);
  });
});
