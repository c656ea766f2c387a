/**
 * What a CLI command is: one MCP tool's definition (the same input schema, engine call and output
 * schema) plus how a terminal reaches it: flags that become the tool's input fields, the question
 * asked before hosts change, the exit status a result means, and lines for a person.
 */
import type { z } from "zod";
import { DEFAULT_CONFIRM_TIMEOUT_SEC } from "../engine/deploy/activation.js";
import { UserError } from "../engine/errors.js";
import type { ToolDefinition } from "../tools/define.js";

/** What the exit status says happened; documented in --help and the README. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  blocked: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_HELP = `Exit status:
  0    success, or nothing to change
  1    a host failed, was rolled back, or does not answer
  2    bad usage or input (unknown host, bad option, a value out of range, no confirmation possible)
  3    blocked by a check (a failed preflight check, a blocking finding, a nixpkgs issue that blocks)
  130  interrupted (Ctrl-C), or declined at the confirmation prompt`;

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in --help, e.g. N. */
  value?: string;
  description: string;
  /**
   * The tool input field this flag fills, so that what the engine says about the field (a
   * validation error, a hint such as `dryRun`) reaches a person as the flag (`--dry-run`).
   */
  field?: string;
  /** Words the shell completes for the value: fixed choices, or the fleet's hosts and tags. */
  complete?: readonly string[] | "hosts";
}
export type Options = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

export interface CliCommand<Input extends z.ZodRawShape, Output extends z.ZodObject> {
  name: string;
  synopsis: string;
  summary: string;
  options: Options;
  /** What the positional arguments are, for completion: host selectors, or nothing to complete. */
  positionals?: "hosts";
  tool: ToolDefinition<Input, Output>;
  /** The tool's input, before the tool's schema checks it. Throw UsageError for what cannot parse. */
  input(values: Values, positionals: string[]): Record<string, unknown>;
  /** The question to ask before a step that changes hosts or files; undefined when nothing changes. */
  confirm?(input: z.infer<z.ZodObject<Input>>): string | undefined;
  exitCode(result: z.infer<Output>): ExitCode;
  render(result: z.infer<Output>): string[];
}

export function command<Input extends z.ZodRawShape, Output extends z.ZodObject>(
  definition: CliCommand<Input, Output>,
): CliCommand<Input, Output> {
  return definition;
}

export type AnyCommand = CliCommand<any, any>;

/** A mistake in how the command was called: exit 2. */
export class UsageError extends UserError {}

export const GLOBAL_OPTIONS: Options = {
  flake: {
    type: "string",
    value: "PATH",
    description: "the flake (default: NIX_DEPLOY_FLAKE or the working directory)",
  },
  inventory: {
    type: "string",
    value: "FILE",
    description: "the inventory (default: nix-deploy.json at the flake root)",
  },
  json: {
    type: "boolean",
    description: "print one JSON document (the tool's structured result, or the error) on stdout",
  },
  yes: {
    type: "boolean",
    short: "y",
    description: "do not ask before changing hosts or files",
    // smart_update's `confirm: true` is the CLI's --yes.
    field: "confirm",
  },
  "ask-sudo-password": {
    type: "boolean",
    description:
      "ask once for the login user's sudo password on hosts whose sudo wants one; it goes to sudo on stdin, never on a command line or in a log",
  },
  help: { type: "boolean", short: "h", description: "show help" },
};

export const ALL_OPTION: Options = { all: { type: "boolean", description: "every host of the fleet" } };

export const MODE_OPTION: Options = {
  mode: {
    type: "string",
    value: "MODE",
    description: "standard (default), fast or emergency",
    field: "mode",
    complete: ["standard", "fast", "emergency"],
  },
};

export const CONFIRM_TIMEOUT_OPTION: Options = {
  "confirm-timeout": {
    type: "string",
    value: "S",
    description: `magic rollback timeout in seconds (default ${DEFAULT_CONFIRM_TIMEOUT_SEC})`,
    field: "confirmTimeoutSec",
  },
};

export const INSTALL_BOOTLOADER_OPTION: OptionSpec = {
  type: "boolean",
  description: "install or reinstall the boot loader while activating (switch and boot goals)",
  field: "installBootloader",
};

/** HOSTS..., @tag or --all, as the engine's selectors; `required` refuses an empty selection. */
export function selectors(values: Values, positionals: string[], required: boolean): string[] | undefined {
  if (values.all && positionals.length) throw new UsageError("give hosts or --all, not both");
  if (values.all) return ["all"];
  if (positionals.length) return positionals;
  if (required)
    throw new UsageError("no hosts given", "name hosts (p620 p510), a tag (@web), or --all for every host");
  return undefined;
}

/** A number option as a number; zod's schema then says whether it is in range. */
export const numberOption = (value: Values[string]): number | undefined =>
  typeof value === "string" ? Number(value) : undefined;

/** A boolean flag as the tool's optional boolean: absent stays absent. */
export const flag = (value: Values[string]): true | undefined => (value ? true : undefined);

export function noPositionals(name: string, positionals: string[]): void {
  if (positionals.length)
    throw new UsageError(
      `${name} takes no arguments, got ${positionals.join(" ")}`,
      `nix-deploy ${name} --help lists its options`,
    );
}
