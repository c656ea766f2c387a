/**
 * The floor the benches measure nix-deploy against: the bare sequence `nixos-rebuild --target-host`
 * runs for one host (nix build, nix copy, nix-env --set, switch-to-configuration), without any of the
 * engine's checks, over ssh logins of its own as a person's shell would open them.
 */
import { execa } from "execa";
import type { SimFleet } from "../test/fleet/harness.js";

/** What a person would type for one host, without any of the engine's checks. */
export async function bareSequence(fleet: SimFleet, name: string): Promise<void> {
  const env = { ...process.env, ...fleet.env };
  const ssh = fleet.sshOptions(name);
  const built = await execa(
    "nix",
    [
      "build",
      "--no-link",
      "--json",
      `${fleet.flakeDir}#nixosConfigurations.${name}.config.system.build.toplevel`,
    ],
    { env },
  );
  const path = (JSON.parse(built.stdout) as Array<{ outputs: { out: string } }>)[0]?.outputs.out as string;
  await execa("nix", ["copy", "--to", "ssh://root@127.0.0.1", path], {
    env: { ...env, NIX_SSHOPTS: ssh.join(" ") },
  });
  await execa(
    "ssh",
    [
      ...ssh,
      "root@127.0.0.1",
      `nix-env -p /nix/var/nix/profiles/system --set ${path} && ${path}/bin/switch-to-configuration switch`,
    ],
    { env },
  );
}
