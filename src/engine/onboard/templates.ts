/**
 * The files of a new host, from the templates in templates/host/: the host module (boot loader by
 * firmware, GPU driver by vendor, ssh, the optional user and services), the disko layout of its
 * disk, home.nix, and the nixosConfigurations entry. Every value put into them is one of a fixed
 * set or passed the name rules of input.ts first, so nothing from input becomes Nix code.
 */
import { readFileSync } from "node:fs";
import { packageFile } from "../package.js";

export const SERVICES = [
  "postgresql",
  "redis",
  "nginx",
  "prometheus",
  "grafana",
  "fail2ban",
  "autoUpgrade",
] as const;
export type Service = (typeof SERVICES)[number];

export interface HostSpec {
  name: string;
  system: string;
  boot: "efi" | "bios";
  gpu: "nvidia" | "amd" | "intel" | "none";
  disk: string;
  /** The facter report as a Nix path from the host's directory (`./facter.json`). */
  facterReport?: string;
  user?: string;
  services: Service[];
}

/** How the flake entry refers to the flake's inputs; undefined when the flake lacks one. */
export interface InputRefs {
  nixpkgs: string;
  disko?: string;
  homeManager?: string;
  facter?: string;
}

const cache = new Map<string, string>();

function template(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(packageFile(`templates/host/${name}`), "utf8");
    cache.set(name, text);
  }
  return text;
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/@([A-Z]+)@/g, (whole, key: string) => values[key] ?? whole);
}

export function hostDir(name: string): string {
  return `hosts/${name}`;
}

/** A file of the host's directory: its path relative to the flake, and its text. */
export interface HostFile {
  path: string;
  text: string;
}

/**
 * The host's modules, each from its template: configuration.nix imports the others (boot loader,
 * partitions unless disko declares them, GPU driver, facter report, one file per service), then
 * disko.nix and, with a user, home.nix.
 */
export function renderHostFiles(spec: HostSpec, refs: InputRefs): HostFile[] {
  const dir = hostDir(spec.name);
  const values: Record<string, string> = {
    NAME: spec.name,
    SYSTEM: spec.system,
    DISK: spec.disk,
    USER: spec.user ?? "",
    REPORT: spec.facterReport ?? "",
  };
  const modules: Array<{ file: string; template: string }> = [
    { file: "boot.nix", template: `boot-${spec.boot}.nix` },
    // With disko imported, disko sets the file systems and GRUB's device itself; setting them
    // here too would define them twice (GRUB refuses a device listed twice).
    ...(refs.disko ? [] : [{ file: "partitions.nix", template: `partitions-${spec.boot}.nix` }]),
    ...(spec.gpu === "none" ? [] : [{ file: "gpu.nix", template: `gpu-${spec.gpu}.nix` }]),
    ...(spec.facterReport ? [{ file: "facter.nix", template: "facter.nix" }] : []),
    ...spec.services.map((service) => ({
      file: `services/${service}.nix`,
      template: `services/${service}.nix`,
    })),
  ];
  const facts = [
    spec.system,
    spec.boot === "efi" ? "EFI" : "BIOS",
    spec.gpu === "none" ? "no GPU driver" : `${spec.gpu} GPU`,
    `disk ${spec.disk}`,
    ...(spec.facterReport ? ["a nixos-facter report"] : []),
  ].join(", ");
  const configuration = fill(template("configuration.nix"), {
    ...values,
    FACTS: facts,
    IMPORTS: modules.map((m) => `    ./${m.file}`).join("\n"),
    USERS: spec.user ? fill(template("user.nix"), values) : "",
  });
  return [
    { path: `${dir}/configuration.nix`, text: configuration },
    ...modules.map((m) => ({ path: `${dir}/${m.file}`, text: fill(template(m.template), values) })),
    {
      path: `${dir}/disko.nix`,
      text: fill(template("disko.nix"), {
        ...values,
        LAYOUT: spec.boot === "efi" ? "an EFI system partition" : "a BIOS boot partition for GRUB",
        PARTITION: template(`disko-${spec.boot}.nix`).trimEnd(),
      }),
    },
    ...(spec.user ? [{ path: `${dir}/home.nix`, text: fill(template("home.nix"), values) }] : []),
  ];
}

/** The modules of the host's nixosConfigurations entry: only those of inputs the flake has. */
function entryModules(spec: HostSpec, refs: InputRefs): string[] {
  const dir = `./${hostDir(spec.name)}`;
  return [
    ...(refs.disko ? [`${refs.disko}.nixosModules.disko`, `${dir}/disko.nix`] : []),
    ...(refs.facter && spec.facterReport ? [`${refs.facter}.nixosModules.facter`] : []),
    `${dir}/configuration.nix`,
    ...(refs.homeManager && spec.user
      ? [
          `${refs.homeManager}.nixosModules.home-manager`,
          "{",
          "  home-manager.useGlobalPkgs = true;",
          "  home-manager.useUserPackages = true;",
          `  home-manager.users.${spec.user} = import ${dir}/home.nix;`,
          "}",
        ]
      : []),
  ];
}

/** The nixosConfigurations attribute, indented by `indent` on every line. */
export function renderFlakeEntry(spec: HostSpec, refs: InputRefs, indent: string): string {
  const modules = entryModules(spec, refs)
    .map((line) => `    ${line}`)
    .join("\n");
  return fill(template("flake-entry.nix"), { NAME: spec.name, NIXPKGS: refs.nixpkgs, MODULES: modules })
    .trimEnd()
    .split("\n")
    .map((line) => `${indent}${line}`)
    .join("\n");
}
