import { resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import type { Inventory, KeySpec } from "../fleet/inventory.js";
import { checkSshFile } from "../trust.js";

/** Where a key's content comes from; a keyFile is an absolute path, checked against the allowed places. */
export type KeySource =
  | { kind: "text"; text: string }
  | { kind: "keyFile"; path: string }
  | { kind: "keyCommand"; argv: string[]; cwd: string };

/** A key of one host, with colmena's defaults filled in. */
export interface HostKey {
  name: string;
  source: KeySource;
  destDir: string;
  user: string;
  group: string;
  /** Four octal digits: 0600. */
  permissions: string;
  uploadAt: "pre-activation" | "post-activation";
  action?: { verb: "reload" | "restart"; unit: string };
  /** The inventory field that defines it, for errors: `hosts.p620.keys.db` or `defaults.keys.db`. */
  field: string;
}

export type UploadTime = HostKey["uploadAt"];

/** What may be shown of a key anywhere (results, records, logs, progress): never its content. */
export const keyDescriptionSchema = z.object({
  name: z.string(),
  destination: z.string(),
  mode: z.string(),
  owner: z.string().describe("user:group"),
  size: z.number().optional().describe("bytes uploaded"),
  uploadAt: z.enum(["pre-activation", "post-activation"]),
});
export type KeyDescription = z.infer<typeof keyDescriptionSchema>;

export function describeKey(key: HostKey, size?: number): KeyDescription {
  return {
    name: key.name,
    destination: `${key.destDir.replace(/\/+$/, "")}/${key.name}`,
    mode: key.permissions,
    owner: `${key.user}:${key.group}`,
    ...(size === undefined ? {} : { size }),
    uploadAt: key.uploadAt,
  };
}

/**
 * A host's keys: the defaults' keys, then its own, a key of its own replacing a default key of the
 * same name whole. Relative keyFile paths and keyCommand's working directory are the inventory's
 * directory; a keyFile must be inside one of `fileRoots` (the flake, ~/.ssh, an explicit
 * inventory's directory), the places trust.ts allows ssh key files.
 */
export function hostKeys(
  inventory: Inventory,
  hostName: string,
  baseDir: string,
  fileRoots: readonly string[],
): HostKey[] {
  const merged = new Map<string, [KeySpec, string]>();
  for (const [name, spec] of Object.entries(inventory.defaults?.keys ?? {}))
    merged.set(name, [spec, `defaults.keys.${name}`]);
  for (const [name, spec] of Object.entries(inventory.hosts?.[hostName]?.keys ?? {}))
    merged.set(name, [spec, `hosts.${hostName}.keys.${name}`]);
  return [...merged.entries()].map(([name, [spec, field]]) => ({
    name,
    source: sourceOf(spec, field, baseDir, fileRoots),
    destDir: spec.destDir ?? "/run/keys",
    user: spec.user ?? "root",
    group: spec.group ?? "root",
    permissions: (spec.permissions ?? "0600").padStart(4, "0"),
    uploadAt: spec.uploadAt ?? "pre-activation",
    ...(spec.action
      ? {
          action: spec.action.reload
            ? { verb: "reload" as const, unit: spec.action.reload }
            : { verb: "restart" as const, unit: spec.action.restart as string },
        }
      : {}),
    field,
  }));
}

function sourceOf(spec: KeySpec, field: string, baseDir: string, fileRoots: readonly string[]): KeySource {
  if (spec.text !== undefined) return { kind: "text", text: spec.text };
  if (spec.keyCommand) return { kind: "keyCommand", argv: spec.keyCommand, cwd: baseDir };
  const path = resolve(baseDir, spec.keyFile as string);
  try {
    checkSshFile(path, `${field}.keyFile`, fileRoots);
  } catch (error) {
    throw new UserError(
      (error as Error).message,
      `keep key files in ~/.ssh, or in the flake's directory untracked by git (a tracked file is copied into the world-readable Nix store with the flake); allowed: ${fileRoots.join(", ")}`,
    );
  }
  return { kind: "keyFile", path };
}
