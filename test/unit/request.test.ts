import { describe, expect, it } from "vitest";
import { UserError } from "../../src/engine/errors.js";
import { phasesFor } from "../../src/engine/plan.js";
import { parseRequest } from "../../src/engine/request.js";

const known = { hosts: ["p620", "p510", "razer", "samsung"], tags: ["server", "laptop"] };
const parse = (text: string) => parseRequest(text, known);
const errorOf = (text: string) => {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return `${(error as UserError).message} | ${(error as UserError).remedy}`;
  }
  throw new Error(`"${text}" was accepted`);
};

describe("the /nix-deploy request grammar", () => {
  it("reads every mode of the seed", () => {
    expect(parse("Deploy to p620")).toMatchObject({
      action: "deploy",
      mode: "standard",
      hosts: ["p620"],
      dryRun: false,
    });
    expect(parse("Fast deploy to p620")).toMatchObject({ action: "deploy", mode: "fast", hosts: ["p620"] });
    expect(parse("Emergency deploy to p620")).toMatchObject({
      action: "deploy",
      mode: "emergency",
      hosts: ["p620"],
    });
    expect(parse("Deploy to all hosts")).toMatchObject({ action: "deploy", hosts: ["all"] });
    expect(parse("Update system")).toMatchObject({ action: "update", hosts: ["all"] });
    expect(parse("Update flake")).toMatchObject({ action: "update", hosts: ["all"] });
    expect(parse("Preview updates for p620")).toMatchObject({ action: "preview", hosts: ["p620"] });
    expect(parse("Update workflow for p620")).toMatchObject({ action: "update-workflow", hosts: ["p620"] });
    expect(parse("Smart update p620")).toMatchObject({ action: "smart-update", hosts: ["p620"] });
    expect(parse("Dry run deploy to razer")).toMatchObject({
      action: "deploy",
      dryRun: true,
      hosts: ["razer"],
    });
  });

  it("reads host lists, tags and an issue reference", () => {
    expect(parse("Deploy to p620, p510 and razer for issue #123")).toMatchObject({
      hosts: ["p620", "p510", "razer"],
      issue: 123,
    });
    expect(parse("deploy to @server")).toMatchObject({ hosts: ["@server"] });
    expect(parse("/nix-deploy Deploy to P620")).toMatchObject({ hosts: ["p620"] });
  });

  it("answers an unknown host, mode or form with what is valid", () => {
    expect(errorOf("Deploy to p999")).toBe(
      'unknown host "p999" | hosts: p620, p510, razer, samsung; or say "all hosts"',
    );
    expect(errorOf("Turbo deploy to p620")).toBe(
      'unknown mode "turbo" | modes are standard, fast and emergency',
    );
    expect(errorOf("Deploy to @nosuch")).toMatch(/no host has the tag @nosuch \| tags: @server, @laptop/);
    expect(errorOf("Make it so")).toMatch(
      /cannot read the request .* write one of: Deploy to HOST; Fast deploy to HOST/,
    );
    expect(errorOf("Deploy")).toMatch(/which host\?/);
    expect(errorOf("Deploy to p620 for issue abc")).toMatch(/"for issue" needs a number/);
  });

  it("plans fewer checks for fast and none for emergency, with magic rollback in every deploy", () => {
    const tools = (text: string) => phasesFor(parse(text)).map((p) => p.tool);
    expect(tools("Deploy to p620")).toEqual([
      "preflight",
      "validate_syntax",
      "scan_antipatterns",
      "security_audit",
      "test_build",
      "deploy",
    ]);
    expect(tools("Fast deploy to p620")).toEqual(["validate_syntax", "deploy"]);
    expect(tools("Fast deploy to p620")).not.toContain("security_audit");
    expect(tools("Emergency deploy to p620")).toEqual(["deploy"]);
    for (const text of ["Deploy to p620", "Fast deploy to p620", "Emergency deploy to p620"]) {
      expect(phasesFor(parse(text)).at(-1)?.phase).toMatch(/magic rollback/);
    }
    expect(phasesFor(parse("Deploy to p620 for issue #7")).at(-1)?.phase).toBe(
      "commit the change referencing issue #7",
    );
  });

  it("reads the onboarding of a new machine: add host, onboard, install on a disk by id", () => {
    const tools = (text: string) => phasesFor(parse(text)).map((p) => p.tool);
    expect(parse("Add host newbox")).toMatchObject({ action: "add-host", hosts: ["newbox"], newHost: true });
    expect(tools("Add host newbox")).toEqual(["host_facts", "add_host", "add_host"]);
    expect(parse("Onboard Newbox")).toMatchObject({ action: "onboard", hosts: ["Newbox"] });
    expect(tools("Onboard newbox")).toEqual(["host_facts", "add_host", "add_host", "install_host"]);
    // The dry run of add_host asks before the write.
    expect(phasesFor(parse("Onboard newbox")).map((p) => p.gate)).toEqual(["runs", "asks", "blocks", "asks"]);
    const disk = "/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S64ANS0T1";
    expect(parse(`Install newbox on disk ${disk}`)).toMatchObject({
      action: "install",
      hosts: ["newbox"],
      disk,
    });
    expect(tools(`Install newbox on ${disk}`)).toEqual([
      "host_facts",
      "add_host",
      "add_host",
      "install_host",
    ]);
    // A host the flake has already is installed without being added again.
    expect(tools(`Install p620 on disk ${disk}`)).toEqual(["host_facts", "install_host"]);
    expect(phasesFor(parse(`Install p620 on disk ${disk}`)).at(-1)?.phase).toContain(disk);

    expect(errorOf("Add host p620")).toMatch(/p620 is a host of the fleet already \| deploy to it/);
    expect(errorOf('Add host x";rm')).toMatch(/cannot name a host/);
    expect(errorOf("Install newbox on disk /dev/sda")).toMatch(/kernel name, which can change between boots/);
    expect(errorOf("Install newbox on disk /dev/nvme0n1")).toMatch(/\/dev\/disk\/by-id/);
  });
});
