/**
 * The ssh transport's options: the key exchange of a login that carries no secret, read from what
 * the installed ssh says its configuration allows (`ssh -G` reads, never connects).
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLASSICAL_KEX, classicalKexFirst } from "../../src/engine/remote/ssh.js";

const hasSsh = (() => {
  try {
    execFileSync("ssh", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** What ssh would use for a host, with a configuration of nothing but `options`. */
const effective = (...options: string[]) =>
  execFileSync("ssh", ["-G", "-F", "/dev/null", ...options.flatMap((o) => ["-o", o]), "host.example"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });

describe.skipIf(!hasSsh)("classicalKexFirst, on the installed ssh's own answers (ssh -G)", () => {
  it("puts curve25519 first and keeps every other algorithm the configuration allows, in order", () => {
    const allowed = /^kexalgorithms (\S+)$/m.exec(effective())?.[1]?.split(",") ?? [];
    const [option, value] = classicalKexFirst(effective());
    if (allowed[0] === CLASSICAL_KEX) return expect(option).toBeUndefined();
    expect(option).toBe("-o");
    const reordered = value?.replace("KexAlgorithms=", "").split(",");
    expect(reordered?.[0]).toBe(CLASSICAL_KEX);
    expect(reordered?.slice(1)).toEqual(allowed.filter((k) => k !== CLASSICAL_KEX));
  });

  it("adds nothing a configuration left out: without curve25519, ssh's choice stands", () => {
    expect(classicalKexFirst(effective("KexAlgorithms=diffie-hellman-group16-sha512"))).toEqual([]);
  });

  it("nothing to change when curve25519 comes first already, or when ssh -G said nothing", () => {
    expect(
      classicalKexFirst(effective(`KexAlgorithms=${CLASSICAL_KEX},diffie-hellman-group16-sha512`)),
    ).toEqual([]);
    expect(classicalKexFirst("")).toEqual([]);
  });
});
