/**
 * nix-deploy for a person in a terminal. Each command (./commands, one file each) adapts one MCP
 * tool: the same input schema, engine call and output schema. What lives here is what every command
 * shares: parsing, help, the y/N question, progress, errors in the CLI's own words, exit codes.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { z } from "zod";
import { createEngine } from "../engine/engine.js";
import { UserError } from "../engine/errors.js";
import { createLogger } from "../engine/log.js";
import { runTool } from "../tools/define.js";
import {
  type AnyCommand,
  EXIT,
  EXIT_HELP,
  type ExitCode,
  GLOBAL_OPTIONS,
  type Options,
  UsageError,
  type Values,
} from "./command.js";
import { commands } from "./commands/index.js";
import { completionCandidates, completionScript, SHELLS } from "./completion.js";
import { askLine, askPassword, askYesNo, Progress } from "./progress.js";
import { cliVocabulary } from "./vocabulary.js";

const inCliWords = cliVocabulary(commands);

function optionHelp(options: Options): string[] {
  return Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.value ? ` ${spec.value}` : ""}`;
    return `  ${flag.padEnd(26)} ${spec.description}`;
  });
}

function usage(cmd?: AnyCommand): string {
  if (cmd)
    return [
      `Usage: nix-deploy ${cmd.synopsis} [global options]`,
      "",
      `${cmd.summary}.`,
      ...(Object.keys(cmd.options).length ? ["", "Options:", ...optionHelp(cmd.options)] : []),
      "",
      "Global options:",
      ...optionHelp(GLOBAL_OPTIONS),
      "",
      EXIT_HELP,
      "",
    ].join("\n");
  return [
    "nix-deploy: deploy NixOS flake configurations to one host or a fleet, safely",
    "",
    "Usage: nix-deploy COMMAND [ARGS] [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(13)} ${c.summary}`),
    `  ${"completions".padEnd(13)} print the shell completion script: completions ${SHELLS.join("|")}`,
    "",
    "Global options:",
    ...optionHelp(GLOBAL_OPTIONS),
    "",
    "nix-deploy COMMAND --help shows a command's arguments and options.",
    "",
    EXIT_HELP,
    "",
    "Environment: LOG_LEVEL (stderr shows warn and above unless set; the run's log file under",
    "$XDG_STATE_HOME/nix-deploy/logs/ holds LOG_LEVEL, default info), NIX_DEPLOY_FLAKE, NIX_DEPLOY_PARALLEL.",
    "",
  ].join("\n");
}

/** parseArgs wants only its own keys. */
const parseArgsOptions = (options: Options): NonNullable<ParseArgsConfig["options"]> =>
  Object.fromEntries(
    Object.entries(options).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short ? { short } : {}), ...(multiple ? { multiple } : {}) },
    ]),
  );

/**
 * Tells what went wrong, in the CLI's words, never a stack trace (that goes to the log file): on
 * stderr, and with --json also as one JSON document on stdout, so a script always gets JSON.
 */
function fail(error: unknown, code: ExitCode, json = false): ExitCode {
  const message = inCliWords(error instanceof Error ? error.message : String(error));
  const remedy = error instanceof UserError && error.remedy ? inCliWords(error.remedy) : undefined;
  process.stderr.write(`nix-deploy: ${message}\n${remedy ? `What to do: ${remedy}\n` : ""}`);
  if (json) process.stdout.write(`${JSON.stringify({ error: message, remedy, exitCode: code }, null, 2)}\n`);
  return code;
}

/** zod's issues with each field named as the flag that sets it (`--confirm-timeout: ...`). */
function flagIssues(cmd: AnyCommand, error: z.ZodError): string {
  const flags = new Map<string, string>();
  for (const [name, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...cmd.options }))
    if (spec.field) flags.set(spec.field, `--${name}`);
  return error.issues
    .map((issue) => {
      const [field, ...rest] = issue.path.map(String);
      const where =
        field === undefined
          ? "arguments"
          : (flags.get(field) ?? (field === "hosts" ? "hosts" : field)) + rest.map((p) => `.${p}`).join("");
      return `${where}: ${issue.message}`;
    })
    .join("\n");
}

/** An engine error about input (a UserError) is exit 2; anything else failed on the way. */
const exitFor = (error: unknown): ExitCode => (error instanceof UserError ? EXIT.usage : EXIT.failed);

export async function main(argv: string[]): Promise<ExitCode> {
  // The command is the first word; options may come before it, and its own options after.
  const first = parseArgs({
    args: argv,
    options: { ...parseArgsOptions(GLOBAL_OPTIONS), version: { type: "boolean" } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const json = first.values.json === true;
  const commandToken = first.tokens.find((t) => t.kind === "positional");
  if (!commandToken) {
    if (first.values.version) {
      // Loaded only here: server.ts brings the MCP SDK, which the commands do not need.
      process.stdout.write(`${(await import("../server.js")).packageVersion}\n`);
      return EXIT.ok;
    }
    if (first.values.help) {
      process.stdout.write(usage());
      return EXIT.ok;
    }
    process.stderr.write(usage());
    return EXIT.usage;
  }
  const rest = argv.filter((_, i) => i !== commandToken.index);
  if (commandToken.value === "completions") return completions(rest);
  if (commandToken.value === "__complete") {
    process.stdout.write(`${(await completionCandidates(rest, commands)).join("\n")}\n`);
    return EXIT.ok;
  }
  const cmd = commands.find((c) => c.name === commandToken.value);
  if (!cmd) {
    return fail(
      new UsageError(
        `unknown command "${commandToken.value}"`,
        `commands: ${commands.map((c) => c.name).join(", ")}; nix-deploy --help explains them`,
      ),
      EXIT.usage,
      json,
    );
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: parseArgsOptions({ ...GLOBAL_OPTIONS, ...cmd.options }),
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    return fail(
      new UsageError((error as Error).message, `nix-deploy ${cmd.name} --help lists the options`),
      EXIT.usage,
      json,
    );
  }
  if (values.help) {
    process.stdout.write(usage(cmd));
    return EXIT.ok;
  }

  let input: Record<string, unknown>;
  try {
    const parsed = z
      .object(cmd.tool.input)
      .safeParse({ ...cmd.input(values, positionals), flake: values.flake });
    if (!parsed.success)
      throw new UsageError(
        flagIssues(cmd, parsed.error),
        `nix-deploy ${cmd.name} --help shows what is expected`,
      );
    input = parsed.data;
  } catch (error) {
    return fail(error, EXIT.usage, json);
  }

  const question = cmd.confirm?.(input);
  if (question && !values.yes) {
    if (!process.stdin.isTTY)
      return fail(
        new UsageError(
          `${cmd.name} changes hosts or files and asks first, but stdin is not a terminal to answer on`,
          "run it in a terminal, or pass --yes to confirm without asking",
        ),
        EXIT.usage,
        json,
      );
    if (!(await askYesNo(question))) {
      process.stderr.write("nix-deploy: nothing was changed\n");
      return EXIT.interrupted;
    }
  }

  let sudoPassword: string | undefined;
  if (values["ask-sudo-password"]) {
    if (!process.stdin.isTTY)
      return fail(
        new UsageError(
          "--ask-sudo-password reads the password from a terminal, and stdin is not one",
          "run it in a terminal, or give the login user a NOPASSWD sudo rule on the hosts",
        ),
        EXIT.usage,
        json,
      );
    sudoPassword = await askPassword("sudo password for the hosts' login user: ");
    if (sudoPassword === undefined) {
      process.stderr.write("nix-deploy: nothing was changed\n");
      return EXIT.interrupted;
    }
  }

  const env = process.env;
  // A person reads stderr: only warnings there unless LOG_LEVEL says otherwise; the file keeps info.
  const { log } = createLogger({ env, stderrLevel: env.LOG_LEVEL ?? "warn" });
  const engine = createEngine({
    flake: values.flake as string | undefined,
    inventoryFile: values.inventory as string | undefined,
    log,
    env,
    sudoPassword,
  });
  // Progress goes where the person looks: stdout, unless stdout carries the JSON document.
  const progressOut = json ? process.stderr : process.stdout;
  const progress = new Progress(progressOut, !json && Boolean(process.stdout.isTTY));
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    // The first Ctrl-C cancels and lets the engine leave hosts in a known state; the second leaves now.
    if (interrupted) process.exit(EXIT.interrupted);
    interrupted = true;
    progress.stop();
    process.stderr.write(
      "nix-deploy: interrupted; finishing the step in progress (Ctrl-C again to leave now)\n",
    );
    abort.abort();
  };
  process.on("SIGINT", onSigint);
  try {
    const result = cmd.tool.output.parse(
      await runTool(cmd.tool, engine, input, {
        signal: abort.signal,
        progress: (message: string) => progress.line(inCliWords(message)),
        // A tool that needs a yes mid-run asks on the terminal; without one it cannot ask.
        confirm: async (question: string) =>
          values.yes ? true : process.stdin.isTTY ? askYesNo(question) : undefined,
        // A value to type back (a disk to erase) is always typed by the person: --yes does not answer it.
        ask: async (question: string) => {
          progress.stop();
          return process.stdin.isTTY ? askLine(question) : undefined;
        },
      }),
    );
    progress.stop();
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${cmd
          .render(result)
          .map((line) => (line.startsWith("next: ") ? inCliWords(line) : line))
          .join("\n")}\n`,
      );
    return interrupted ? EXIT.interrupted : cmd.exitCode(result);
  } catch (error) {
    progress.stop();
    if (interrupted)
      return fail(error instanceof UserError ? error : new UserError("interrupted"), EXIT.interrupted, json);
    if (!(error instanceof UserError)) engine.log.error({ err: error, command: cmd.name }, "command failed");
    return fail(error, exitFor(error), json);
  } finally {
    process.off("SIGINT", onSigint);
    await engine.close();
  }
}

function completions(args: string[]): ExitCode {
  const shell = args.find((a) => !a.startsWith("-"));
  if (!shell || !(SHELLS as readonly string[]).includes(shell))
    return fail(
      new UsageError(
        `completions needs a shell: ${SHELLS.join(", ")}`,
        "e.g. nix-deploy completions bash > /etc/bash_completion.d/nix-deploy",
      ),
      EXIT.usage,
    );
  process.stdout.write(completionScript(shell as (typeof SHELLS)[number]));
  return EXIT.ok;
}
