import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { cacheUrlProblem } from "../deploy/cache.js";
import { limitsSchema } from "../deploy/limits.js";
import { UserError } from "../errors.js";
import { ESCALATION_PROGRAMS } from "../remote/escalation.js";
import { checkSshOption } from "../trust.js";

export const INVENTORY_FILE = "nix-deploy.json";
export const DEFAULT_SYSTEM_PROFILE = "/nix/var/nix/profiles/system";

/** Host names become Nix attribute names, file names and log fields: keep them plain. */
export const hostNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/,
    "a host name is letters, digits, '.', '_' and '-', starting with a letter or digit",
  );

/** `user@address` or `address`; never starting with '-', so ssh cannot read it as an option. */
export const destinationSchema = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9[][A-Za-z0-9_.:%[\]-]*$/,
    "an ssh target is address or user@address (letters, digits, '.', '-', ':', '[]'), not starting with '-'",
  );

const sshOptionSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9]*=[^\n\r\0]*$/, "an ssh option is Key=value, as ssh -o takes it");

export const tagSchema = z.string().regex(/^[A-Za-z0-9_.-]+$/, "a tag is letters, digits, '.', '_' and '-'");

const unitNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9@:._\\-]+$/,
    "a unit name is like sshd.service or nginx (letters, digits, '@', ':', '.', '_', '-')",
  );

/**
 * A key's name is the name of its file on the host (destDir/NAME): one path component, so it can
 * never reach outside destDir or start a new line in a listing.
 */
export const keyNameSchema = z.string().superRefine((name, ctx) => {
  const rule =
    name === ""
      ? "it is empty"
      : name.includes("/")
        ? "it contains '/'"
        : name === "." || name === ".."
          ? "it is '.' or '..'"
          : /[\0-\x1f\x7f]/.test(name)
            ? "it contains a newline or another control character"
            : name.length > 255
              ? "it is longer than 255 characters"
              : undefined;
  if (rule)
    ctx.addIssue({
      code: "custom",
      message: `the key name ${JSON.stringify(name)} is refused: ${rule}; a key name is a file name (no '/', not '.' or '..', no newline, 1 to 255 characters)`,
    });
});

/** A user or group on the host: a name (or a numeric id), as chown takes it. */
const accountSchema = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/, "a user or group is letters, digits, '.', '_' and '-'");

/**
 * A secret uploaded to the host over ssh, never through the Nix store: colmena's deployment.keys
 * (text, keyFile, keyCommand, destDir, user, group, permissions, uploadAt), so its keys carry over.
 */
export const keySchema = z
  .strictObject({
    text: z.string().optional(),
    keyFile: z.string().min(1).optional(),
    keyCommand: z
      .array(z.string())
      .min(1, "keyCommand is an argument list: [program, arguments...]")
      .optional(),
    destDir: z
      .string()
      .regex(/^\/[^\0\n\r]*$/, "destDir is an absolute path on the host")
      .refine((dir) => !dir.split("/").includes(".."), "destDir cannot contain '..'")
      .optional(),
    user: accountSchema.optional(),
    group: accountSchema.optional(),
    permissions: z
      .string()
      .regex(/^0?[0-7]{3}$/, "permissions are an octal mode such as 0600 or 0640")
      .optional(),
    uploadAt: z.enum(["pre-activation", "post-activation"]).optional(),
    /** A unit reloaded or restarted (if it runs) once the key is in place, as morph's secrets do. */
    action: z
      .strictObject({ reload: unitNameSchema.optional(), restart: unitNameSchema.optional() })
      .refine((a) => (a.reload === undefined) !== (a.restart === undefined), {
        message: 'action is { "reload": UNIT } or { "restart": UNIT }',
      })
      .optional(),
  })
  .refine((key) => [key.text, key.keyFile, key.keyCommand].filter((v) => v !== undefined).length === 1, {
    message: "a key has exactly one of text, keyFile and keyCommand",
  });

export type KeySpec = z.infer<typeof keySchema>;
const keysSchema = z.record(keyNameSchema, keySchema);

const userSchema = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, "a user name is letters, digits, '.', '_' and '-'");

/**
 * The command that gains root for a login user other than root: its program, then its options
 * (`["sudo", "-n"]`, `["doas"]`, `["run0"]`); `[]` for none. Never a shell string.
 */
const escalationSchema = z
  .array(z.string())
  .refine(
    (words) =>
      words.length === 0 ||
      ((ESCALATION_PROGRAMS as readonly string[]).includes(words[0] as string) &&
        words.slice(1).every((word) => /^--?[A-Za-z][A-Za-z0-9-]*$/.test(word))),
    `the escalation command is one of ${ESCALATION_PROGRAMS.join(", ")} followed by its options, e.g. ["sudo", "-n"], or [] for none`,
  );

/** A binary cache store URL closures are pushed to once, for hosts to substitute from. */
export const cacheUrlSchema = z.string().superRefine((url, ctx) => {
  const problem = cacheUrlProblem(url);
  if (problem)
    ctx.addIssue({ code: "custom", message: `the cache ${JSON.stringify(url)} is refused: ${problem}` });
});

const connectionFields = {
  /** The ssh login user (also `user@` in target). */
  user: userSchema.optional(),
  sudo: escalationSchema.optional(),
  /** A Nix secret key file: the closure is signed with it before it is copied (`nix store sign`). */
  signingKey: z.string().min(1).optional(),
  /** A binary cache the closure is pushed to once; the host substitutes from it (deploy/cache.ts). */
  cache: cacheUrlSchema.optional(),
  /** A host of the fleet that builds this host's system; the result goes from there to the host. */
  buildHost: hostNameSchema.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  identityFile: z.string().min(1).optional(),
  knownHostsFile: z.string().min(1).optional(),
  sshOptions: z.array(sshOptionSchema).optional(),
  /** The one way to allow `StrictHostKeyChecking=no` in sshOptions: an explicit acknowledgement. */
  acceptUnknownHostKeys: z.boolean().optional(),
  profile: z.string().startsWith("/", "the system profile is an absolute path").optional(),
};

const hostEntrySchema = z.strictObject({
  /** `"local"` is this machine, as `local: true`. */
  target: destinationSchema.optional(),
  /** This machine: deployed without ssh, commands run as local processes. */
  local: z.boolean().optional(),
  ...connectionFields,
  tags: z.array(tagSchema).optional(),
  criticalServices: z.array(unitNameSchema).optional(),
  keys: keysSchema.optional(),
});

export const inventorySchema = z.strictObject({
  $schema: z.string().optional(),
  defaults: z
    .strictObject({
      ...connectionFields,
      criticalServices: z.array(unitNameSchema).optional(),
      keys: keysSchema.optional(),
    })
    .optional(),
  hosts: z.record(hostNameSchema, hostEntrySchema).optional(),
  /** How much of a deployment runs at once (deploy/limits.ts); a call or the environment overrides. */
  limits: limitsSchema.optional(),
});

export type Inventory = z.infer<typeof inventorySchema>;
export type InventoryHost = z.infer<typeof hostEntrySchema>;

/** Turns zod's issues into lines that name the field: `hosts.p620.port: expected ...`. */
export function formatSchemaIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length ? issue.path.map(pathSegment).join(".") : "(top level)";
      // A bad record key says only "Invalid key"; its own issues say why.
      const message =
        issue.code === "invalid_key" ? issue.issues.map((inner) => inner.message).join("; ") : issue.message;
      return `${path}: ${message}`;
    })
    .join("\n");
}

/** A path segment as written, or quoted when it would mislead: empty, '..', '/', a newline. */
function pathSegment(segment: PropertyKey): string {
  const text = String(segment);
  return /^[A-Za-z0-9_@:-][A-Za-z0-9_.@:-]*$/.test(text) && !text.includes("..")
    ? text
    : JSON.stringify(text);
}

export function parseInventory(text: string, source: string): Inventory {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(
      `${source} is not valid JSON: ${(error as Error).message}`,
      `fix the JSON syntax of ${source}`,
    );
  }
  const parsed = inventorySchema.safeParse(json);
  if (!parsed.success) {
    throw new UserError(
      `${source} is not a valid inventory:\n${formatSchemaIssues(parsed.error)}`,
      `correct the fields named above in ${source}`,
    );
  }
  checkSshOptions(parsed.data, source);
  checkLocalHosts(parsed.data, source);
  return parsed.data;
}

/** Refuses ssh options that run commands or change trust (see trust.ts), naming the field. */
function checkSshOptions(inventory: Inventory, source: string): void {
  const defaults = inventory.defaults ?? {};
  const entries: [string, { sshOptions?: string[]; acceptUnknownHostKeys?: boolean }][] = [
    ["defaults", defaults],
    ...Object.entries(inventory.hosts ?? {}).map(
      ([name, entry]) => [`hosts.${name}`, entry] as [string, InventoryHost],
    ),
  ];
  for (const [path, entry] of entries) {
    const acknowledged = entry.acceptUnknownHostKeys ?? defaults.acceptUnknownHostKeys ?? false;
    (entry.sshOptions ?? []).forEach((option, i) => {
      try {
        checkSshOption(option, `${path}.sshOptions.${i}`, acknowledged);
      } catch (error) {
        const e = error as UserError;
        throw new UserError(`${source} is not a valid inventory:\n${e.message}`, e.remedy);
      }
    });
  }
}

/** A local host is reached without ssh: an ssh address beside `local: true` would be ignored. */
function checkLocalHosts(inventory: Inventory, source: string): void {
  for (const [name, entry] of Object.entries(inventory.hosts ?? {})) {
    if (entry.local && entry.target !== undefined && entry.target !== "local")
      throw new UserError(
        `${source} is not a valid inventory:\nhosts.${name}: local: true is this machine, reached without ssh, but target says ${entry.target}`,
        `remove hosts.${name}.target, or remove local: true to reach ${entry.target} over ssh`,
      );
  }
}

/** Reads the inventory at the flake root, or an explicit file; none at all is an empty inventory. */
export async function loadInventory(
  flakeDir: string,
  explicitPath?: string,
): Promise<{ inventory: Inventory; path?: string }> {
  const path = explicitPath ? resolve(explicitPath) : join(flakeDir, INVENTORY_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && !explicitPath) return { inventory: {} };
    throw new UserError(
      `cannot read the inventory ${path}: ${(error as Error).message}`,
      "check the path given as the inventory",
    );
  }
  return { inventory: parseInventory(text, path), path };
}

/** Relative file names in the inventory are relative to the file itself, like a flake's paths. */
export function resolveInventoryPath(baseDir: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  return isAbsolute(file) ? file : resolve(baseDir, file);
}
