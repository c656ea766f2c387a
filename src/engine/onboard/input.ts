/**
 * What add_host takes, and the rules every value follows before it reaches a template: names are
 * the seed's hostname rule (letters, digits, inner hyphens) narrowed to what Nix reads as an
 * attribute name, a user is a Unix login name, a disk is a /dev/disk/by-id name. So nothing from
 * input becomes Nix code: it is one of a fixed set, or text of these characters inside a string.
 */
import { statSync } from "node:fs";
import { posix, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { destinationSchema, tagSchema } from "../fleet/inventory.js";
import { isInside, realPathOf } from "../trust.js";
import { type HostSpec, hostDir, SERVICES } from "./templates.js";

/** Nix keywords: a host or user so named would be read as the keyword, not an attribute. */
const NIX_KEYWORDS = new Set(["assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with"]);

export const hostNameSchema = z
  .string()
  .regex(
    /^[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/,
    "a host name is letters, digits and inner hyphens, starting with a letter, at most 63 characters (it is the host's hostname and a Nix attribute name)",
  )
  .refine((name) => !NIX_KEYWORDS.has(name), "a Nix keyword cannot name a host");

export const userNameSchema = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_-]{0,31}$/,
    "a user name is lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters",
  )
  .refine((name) => !NIX_KEYWORDS.has(name) && name !== "root", "not a Nix keyword, and not root");

/** A disk by its stable name; the kernel's names (sda, nvme0n1) are refused with why (see checkDisk). */
const diskSchema = z.string().max(255).describe("/dev/disk/by-id/...");

export const SYSTEMS = ["x86_64-linux", "aarch64-linux"] as const;

export const addHostInput = {
  name: hostNameSchema.describe("the new host's name"),
  system: z.enum(SYSTEMS),
  boot: z.enum(["efi", "bios"]),
  gpu: z.enum(["nvidia", "amd", "intel", "none"]),
  disk: diskSchema,
  facterReport: z.string().min(1).max(500).optional().describe("a nixos-facter report in the flake"),
  target: destinationSchema.optional().describe("ssh address for the inventory"),
  port: z.number().int().min(1).max(65535).optional(),
  tags: z.array(tagSchema).max(20).optional(),
  user: userNameSchema.optional().describe("a user with a home-manager home.nix"),
  services: z.array(z.enum(SERVICES)).max(SERVICES.length).optional(),
  dryRun: z.boolean().optional().describe("default true"),
};

/** Why a disk name is refused, so the user knows what to give instead. */
export function checkDisk(disk: string): void {
  const kernelName = /^\/dev\/(sd[a-z]+|hd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+)(p?\d+)?$/.exec(
    disk,
  );
  if (kernelName)
    throw new UserError(
      `${disk} is a kernel name, which can change between boots and when disks are added, and the wrong disk would be erased`,
      "give the disk's /dev/disk/by-id/... name (host_facts lists them, or `ls -l /dev/disk/by-id` on the machine)",
    );
  if (!/^\/dev\/disk\/by-id\/[A-Za-z0-9._:+-]{1,200}$/.test(disk))
    throw new UserError(
      `"${disk}" is not a /dev/disk/by-id/ name`,
      "give the whole disk as /dev/disk/by-id/NAME (letters, digits, '.', '_', ':', '+', '-')",
    );
  if (/-part\d+$/.test(disk))
    throw new UserError(
      `${disk} is a partition; disko partitions a whole disk`,
      `give the disk itself: ${disk.replace(/-part\d+$/, "")}`,
    );
}

/**
 * The facter report as a Nix path from the host's directory (`./facter.json`), checked to be a
 * regular file inside the flake, named with characters a Nix path literal takes as they are.
 */
export function facterPath(flake: string, name: string, report: string): { file: string; nixPath: string } {
  const absolute = resolve(flake, report);
  if (!isInside(realPathOf(flake), realPathOf(absolute)))
    throw new UserError(
      `facterReport ${report} is outside the flake`,
      "save the report inside the flake (host_facts does)",
    );
  const file = relative(flake, absolute).split(sep).join("/");
  if (!statSync(absolute, { throwIfNoEntry: false })?.isFile())
    throw new UserError(
      `facterReport ${file} is not a file of the flake`,
      "run host_facts on the machine first, or give the report's path",
    );
  if (!/^[A-Za-z0-9._/-]+$/.test(file) || !file.endsWith(".json"))
    throw new UserError(
      `facterReport ${file} must be a .json file named with letters, digits, '.', '_', '-' and '/'`,
      "rename it (host_facts saves hosts/NAME/facter.json)",
    );
  const fromHost = posix.relative(hostDir(name), file);
  return { file, nixPath: fromHost.startsWith("../") ? fromHost : `./${fromHost}` };
}

export type AddHostInput = z.infer<z.ZodObject<typeof addHostInput>> & { flake?: string };

export function specOf(input: AddHostInput, facter?: string): HostSpec {
  return {
    name: input.name,
    system: input.system,
    boot: input.boot,
    gpu: input.gpu,
    disk: input.disk,
    facterReport: facter,
    user: input.user,
    services: [...new Set(input.services ?? [])],
  };
}
