#!/usr/bin/env node
/**
 * nix-deploy for a person in a terminal. Each command is one entry of COMMANDS over one MCP tool's
 * definition: the same input schema, the same engine call, the same output schema. What lives here
 * is only argument parsing, confirmation, progress lines, rendering and exit codes.
 */
import { createInterface } from "node:readline/promises";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { z } from "zod";
import { createEngine } from "./engine/engine.js";
import { describeError, UserError } from "./engine/errors.js";
import { formatSchemaIssues } from "./engine/fleet/inventory.js";
import { createLogger } from "./engine/log.js";
import { loadReport, renderReportMarkdown, reportSchema } from "./engine/report/report.js";
import checkNixpkgsIssuesTool from "./tools/check_nixpkgs_issues.js";
import type { ToolDefinition } from "./tools/define.js";
import { defineTool } from "./tools/define.js";
import deployTool from "./tools/deploy.js";
import fleetListTool from "./tools/fleet_list.js";
import hostStatusTool from "./tools/host_status.js";
import preflightTool from "./tools/preflight.js";
import previewUpdatesTool from "./tools/preview_updates.js";
import rollbackTool from "./tools/rollback.js";
import testBuildTool from "./tools/test_build.js";

/** Reports are MCP resources; the CLI reads them through the same engine function. */
const reportTool = defineTool({
  name: "report",
  title: "Deployment report",
  description: "The report of a deployment (latest or by id).",
  input: { id: z.string().min(1) },
  output: reportSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  run: async (engine, input) => loadReport(input.id, engine.env, engine.flake),
});

/** What the exit status says happened; documented in --help and the README. */
const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  blocked: 3,
  interrupted: 130,
} as const;
type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const EXIT_HELP = `Exit status:
  0    success, or nothing to change
  1    a host failed, was rolled back, or does not answer
  2    bad usage or input (unknown host, bad option, no confirmation possible)
  3    blocked by a check (a failed preflight check, a nixpkgs issue that blocks)
  130  interrupted (Ctrl-C), or declined at the confirmation prompt`;

interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in --help, e.g. N. */
  value?: string;
  description: string;
}
type Options = Record<string, OptionSpec>;
type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** One CLI command: how its arguments become the tool's input, and how its result is shown. */
interface CliCommand<Input extends z.ZodRawShape, Output extends z.ZodObject> {
  name: string;
  synopsis: string;
  summary: string;
  options: Options;
  tool: ToolDefinition<Input, Output>;
  /** The tool's input, before the tool's schema checks it. Throw UsageError for what cannot parse. */
  input(values: Values, positionals: string[]): Record<string, unknown>;
  /** The question to ask before a step that changes hosts; undefined when nothing changes. */
  confirm?(input: z.infer<z.ZodObject<Input>>): string | undefined;
  exitCode(result: z.infer<Output>): ExitCode;
  render(result: z.infer<Output>): string[];
}

function command<Input extends z.ZodRawShape, Output extends z.ZodObject>(
  definition: CliCommand<Input, Output>,
): CliCommand<Input, Output> {
  return definition;
}

class UsageError extends UserError {}

const GLOBAL_OPTIONS: Options = {
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
    description: "print one JSON document (the tool's structured result) and nothing else on stdout",
  },
  yes: { type: "boolean", short: "y", description: "do not ask before changing hosts" },
  help: { type: "boolean", short: "h", description: "show help" },
};

const ALL_OPTION: Options = { all: { type: "boolean", description: "every host of the fleet" } };

/** HOSTS..., @tag or --all, as the engine's selectors; `required` refuses an empty selection. */
function selectors(values: Values, positionals: string[], required: boolean): string[] | undefined {
  if (values.all && positionals.length) throw new UsageError("give hosts or --all, not both");
  if (values.all) return ["all"];
  if (positionals.length) return positionals;
  if (required)
    throw new UsageError("no hosts given", "name hosts (p620 p510), a tag (@web), or --all for every host");
  return undefined;
}

/** A number option as a number; zod's schema then says whether it is in range. */
const numberOption = (value: Values[string]) => (typeof value === "string" ? Number(value) : undefined);

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const generations = (before?: number, after?: number) =>
  before === undefined && after === undefined ? "" : ` ${before ?? "?"} → ${after ?? "?"}`;
/** `p620 | deployed 3 → 4`: the host column of colmena's output. */
const hostLine = (host: string, text: string, width = 8) => `${host.padEnd(width)} | ${text}`;
const width = (hosts: Array<{ host: string }>) => Math.max(8, ...hosts.map((h) => h.host.length));
/** A failed host's error and the journal lines of the units that failed, under its name. */
const failureLines = (h: { host: string; error?: string; logs?: Record<string, string[]> }, w: number) => [
  ...(h.error ? h.error.split("\n").map((l) => hostLine(h.host, `  error: ${l}`, w)) : []),
  ...Object.entries(h.logs ?? {}).flatMap(([unit, lines]) =>
    lines.map((l) => hostLine(h.host, `  ${unit}: ${l}`, w)),
  ),
];
const checkMark = { pass: "ok  ", warn: "warn", fail: "FAIL" } as const;

const COMMANDS = [
  command({
    name: "fleet",
    synopsis: "fleet [--no-probe]",
    summary: "the flake's hosts: ssh target, tags, whether each answers and the system it runs",
    options: { "no-probe": { type: "boolean", description: "list only; do not contact the hosts" } },
    tool: fleetListTool,
    input: (values, positionals) => {
      if (positionals.length) throw new UsageError(`fleet takes no arguments, got ${positionals.join(" ")}`);
      return { probe: !values["no-probe"] };
    },
    exitCode: (result) => (result.hosts.some((h) => h.reachable === false) ? EXIT.failed : EXIT.ok),
    render: (result) => {
      const w = Math.max(8, ...result.hosts.map((h) => h.name.length));
      return [
        ...result.hosts.map((h) => {
          const state =
            h.reachable === undefined
              ? ""
              : h.reachable
                ? `up ${h.currentSystem ?? ""}`
                : `DOWN ${h.reason ?? ""}`;
          const tags = h.tags.length ? ` ${h.tags.map((t) => `@${t}`).join(" ")}` : "";
          return hostLine(h.name, `${h.target}${h.port ? `:${h.port}` : ""}${tags} ${state}`.trimEnd(), w);
        }),
        ...result.warnings.map((w) => `warning: ${w}`),
        result.summary,
      ];
    },
  }),
  command({
    name: "status",
    synopsis: "status HOST",
    summary: "one host: current system, generations, failed units",
    options: {},
    tool: hostStatusTool,
    input: (_values, positionals) => {
      if (positionals.length !== 1)
        throw new UsageError("status takes one host name", "e.g. nix-deploy status p620");
      return { host: positionals[0] };
    },
    exitCode: (result) => (result.reachable && result.failedUnits.length === 0 ? EXIT.ok : EXIT.failed),
    render: (result) => [
      result.summary,
      ...(result.currentSystem ? [`system: ${result.currentSystem}`] : []),
      ...(result.nixVersion ? [`nix: ${result.nixVersion}`] : []),
      ...result.generations
        .slice(-10)
        .map(
          (g) =>
            `${g.current ? "*" : " "} generation ${g.number}  ${g.date}${g.current ? "  (current)" : ""}`,
        ),
      ...result.failedUnits.map((u) => `failed: ${u.unit} (${u.sub}) ${u.description}`),
      `next: ${result.next}`,
    ],
  }),
  command({
    name: "preflight",
    synopsis: "preflight [HOSTS...|@tag|--all] [--min-free GIB]",
    summary: "checks before a deploy: git status, evaluation, ssh, Nix, free space, locks",
    options: {
      ...ALL_OPTION,
      "min-free": { type: "string", value: "GIB", description: "free space needed in /nix (default 2)" },
    },
    tool: preflightTool,
    input: (values, positionals) => ({
      hosts: selectors(values, positionals, false),
      minFreeGiB: numberOption(values["min-free"]),
    }),
    exitCode: (result) => (result.status === "fail" ? EXIT.blocked : EXIT.ok),
    render: (result) => {
      const w = width(result.hosts);
      const lines = (who: string, checks: typeof result.flake) =>
        checks.map((c) =>
          hostLine(
            who,
            `${checkMark[c.status]} ${c.check}: ${c.detail}${c.remedy ? ` — ${c.remedy}` : ""}`,
            w,
          ),
        );
      return [
        ...lines("flake", result.flake),
        ...result.hosts.flatMap((h) => lines(h.host, h.checks)),
        result.summary,
      ];
    },
  }),
  command({
    name: "build",
    synopsis: "build [HOSTS...|@tag|--all] [--build-host HOST]",
    summary: "build hosts' systems without deploying, here or on a build host",
    options: {
      ...ALL_OPTION,
      "build-host": { type: "string", value: "HOST", description: "build on this host of the fleet" },
    },
    tool: testBuildTool,
    input: (values, positionals) => ({
      hosts: selectors(values, positionals, false),
      buildHost: values["build-host"],
    }),
    exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
    render: (result) => {
      const w = width(result.hosts);
      return [
        ...result.hosts.flatMap((h) =>
          h.ok
            ? [
                hostLine(
                  h.host,
                  `built ${h.storePath ?? ""} in ${seconds(h.buildTimeMs)}${h.closureSizeBytes !== undefined ? `, closure ${mib(h.closureSizeBytes)}` : ""}`,
                  w,
                ),
              ]
            : [
                hostLine(h.host, `build failed${h.failingDerivation ? `: ${h.failingDerivation}` : ""}`, w),
                ...(h.error ?? "").split("\n").map((l) => hostLine(h.host, `  ${l}`, w)),
              ],
        ),
        result.summary,
        `next: ${result.next}`,
      ];
    },
  }),
  command({
    name: "deploy",
    synopsis:
      "deploy HOSTS...|@tag|--all [--mode standard|fast|emergency] [--goal switch|boot|test|dry-activate] [--dry-run] [--confirm-timeout S] [--resume ID|latest]",
    summary:
      "build, skip unchanged hosts, copy, activate under magic rollback, check health; rolls back on failure",
    options: {
      ...ALL_OPTION,
      mode: { type: "string", value: "MODE", description: "standard (default), fast or emergency" },
      goal: { type: "string", value: "GOAL", description: "switch (default), boot, test or dry-activate" },
      "dry-run": { type: "boolean", description: "build, compare and copy, but do not activate" },
      "confirm-timeout": {
        type: "string",
        value: "S",
        description: "magic rollback timeout in seconds (default 30)",
      },
      resume: {
        type: "string",
        value: "ID",
        description: 'finish an interrupted deployment: its id or "latest"',
      },
    },
    tool: deployTool,
    input: (values, positionals) => ({
      // A resumed deployment knows its hosts; a new one must name them.
      hosts: selectors(values, positionals, values.resume === undefined),
      mode: values.mode,
      goal: values.goal,
      dryRun: values["dry-run"] || undefined,
      confirmTimeoutSec: numberOption(values["confirm-timeout"]),
      resume: values.resume,
    }),
    confirm: (input) =>
      input.dryRun || input.goal === "dry-activate"
        ? undefined
        : input.resume
          ? `Resume deployment ${input.resume} and activate the remaining hosts?`
          : `Deploy to ${input.hosts?.join(", ")} (${input.mode ?? "standard"}, ${input.goal ?? "switch"})?`,
    exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
    render: (result) => {
      const w = width(result.hosts);
      return [
        ...result.hosts.flatMap((h) => [
          hostLine(
            h.host,
            `${h.outcome}${generations(h.generationBefore, h.generationAfter)} (${seconds(h.durationMs)})${h.finishedEarlier ? ", in an earlier run" : ""}`,
            w,
          ),
          ...h.packageChanges.map((c) => hostLine(h.host, `  ${c}`, w)),
          ...(h.packageChangeCount > h.packageChanges.length
            ? [
                hostLine(
                  h.host,
                  `  … ${h.packageChangeCount - h.packageChanges.length} more package changes`,
                  w,
                ),
              ]
            : []),
          ...h.unitChanges.map((u) => hostLine(h.host, `  ${u.action} ${u.unit}`, w)),
          ...failureLines(h, w),
          ...(h.notes ?? []).map((n) => hostLine(h.host, `  note: ${n}`, w)),
        ]),
        `deployment ${result.deploymentId} ${result.status}: ${result.summary}`,
        `next: ${result.next}`,
      ];
    },
  }),
  command({
    name: "rollback",
    synopsis: "rollback HOSTS...|@tag|--all [--generation N] [--confirm-timeout S]",
    summary: "return hosts to the previous (or a given) generation, under magic rollback",
    options: {
      ...ALL_OPTION,
      generation: {
        type: "string",
        value: "N",
        description: "the generation to return to (default: the previous)",
      },
      "confirm-timeout": {
        type: "string",
        value: "S",
        description: "magic rollback timeout in seconds (default 30)",
      },
    },
    tool: rollbackTool,
    input: (values, positionals) => ({
      hosts: selectors(values, positionals, true),
      generation: numberOption(values.generation),
      confirmTimeoutSec: numberOption(values["confirm-timeout"]),
    }),
    confirm: (input) =>
      `Roll back ${input.hosts.join(", ")} to ${input.generation === undefined ? "the previous generation" : `generation ${input.generation}`}?`,
    exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
    render: (result) => {
      const w = width(result.hosts);
      return [
        ...result.hosts.flatMap((h) => [
          hostLine(h.host, `${h.outcome}${generations(h.generationBefore, h.generationAfter)}`, w),
          ...failureLines(h, w),
        ]),
        result.summary,
        `next: ${result.next}`,
      ];
    },
  }),
  command({
    name: "preview",
    synopsis: "preview [HOSTS...|@tag|--all] [--input NAME]... [--eval-only]",
    summary: "what a flake update would change per host, without touching your flake",
    options: {
      ...ALL_OPTION,
      input: {
        type: "string",
        multiple: true,
        value: "NAME",
        description: "update only this input (repeatable)",
      },
      "eval-only": { type: "boolean", description: "compare derivations without building" },
    },
    tool: previewUpdatesTool,
    input: (values, positionals) => ({
      hosts: selectors(values, positionals, false),
      inputs: values.input,
      evalOnly: values["eval-only"] || undefined,
    }),
    exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
    render: (result) => {
      const w = width(result.hosts);
      return [
        ...result.inputs.map((i) => `input ${i.input}: ${i.oldRev ?? "?"} → ${i.newRev ?? "?"}`),
        ...result.hosts.flatMap((h) => [
          hostLine(
            h.host,
            h.error ??
              (h.changed
                ? `${h.changeCount} change(s)${h.storageImpact ? `, ${h.storageImpact}` : ""}`
                : "no changes"),
            w,
          ),
          ...[...h.packageChanges, ...h.added.map((a) => `+ ${a}`), ...h.removed.map((r) => `- ${r}`)].map(
            (c) => `${" ".repeat(w)}   ${c}`,
          ),
        ]),
        result.summary,
        `next: ${result.next}`,
      ];
    },
  }),
  command({
    name: "report",
    synopsis: "report [latest|ID]",
    summary:
      "the deployment report: status, generations, changes, checks, health (markdown; JSON with --json)",
    options: {},
    tool: reportTool,
    input: (_values, positionals) => ({ id: positionals[0] ?? "latest" }),
    exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
    render: (result) => [renderReportMarkdown(result)],
  }),
  command({
    name: "issues",
    synopsis: "issues PKG[@OLD..NEW]... [--since DATE] [--new-lock-date DATE] [--refresh]",
    summary: "known NixOS/nixpkgs issues for the packages an update changes, with a verdict",
    options: {
      since: {
        type: "string",
        value: "DATE",
        description: "issues updated since (default: the locked nixpkgs' date)",
      },
      "new-lock-date": {
        type: "string",
        value: "DATE",
        description: "issues closed before it count as fixed",
      },
      refresh: { type: "boolean", description: "ask GitHub again instead of using cached answers" },
    },
    tool: checkNixpkgsIssuesTool,
    input: (values, positionals) => {
      if (!positionals.length)
        throw new UsageError("no packages given", "e.g. nix-deploy issues firefox systemd@254.5..254.6");
      return {
        // `systemd@254.5..254.6` is the package with the versions it changes between.
        packages: positionals.map((p) => {
          const [name, versions] = p.split("@", 2);
          if (versions === undefined) return p;
          const [oldVersion, newVersion] = versions.split("..", 2);
          return { name, oldVersion: oldVersion || undefined, newVersion: newVersion || undefined };
        }),
        since: values.since,
        newLockDate: values["new-lock-date"],
        refresh: values.refresh || undefined,
      };
    },
    exitCode: (result) => (result.verdict.verdict === "block" ? EXIT.blocked : EXIT.ok),
    render: (result) => [
      ...(["critical", "high", "medium"] as const).flatMap((severity) =>
        result.matches[severity].map(
          (m) =>
            `${severity.padEnd(8)} | #${m.number} ${m.title} (${m.package}${m.fixed ? ", fixed in the new lock" : ""}) ${m.url}`,
        ),
      ),
      `searched issues since ${result.since} (${result.sinceFrom}); ${result.status}${result.reason ? `: ${result.reason}` : ""}`,
      `verdict: ${result.verdict.verdict}`,
      ...result.verdict.reasons.map((r) => `  ${r}`),
      ...result.verdict.suggestions.flatMap((s) => [`suggestion: ${s.title} (${s.file})`, s.nix]),
      `next: ${result.nextStep}`,
    ],
  }),
];

type AnyCommand = CliCommand<any, any>;

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
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
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
 * Progress for a person: the engine's `HOST: step` messages as `HOST | step` lines, and on a
 * terminal a spinner line under them with what each host is doing now.
 */
class Progress {
  private readonly current = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private frame = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly spinner: boolean,
  ) {}

  line(message: string): void {
    const match = /^([A-Za-z0-9][A-Za-z0-9_.-]*): ([\s\S]*)$/.exec(message);
    const text = match ? hostLine(match[1] as string, match[2] as string) : message;
    if (match) this.current.set(match[1] as string, (match[2] as string).split("\n")[0] as string);
    this.clear();
    this.out.write(`${text}\n`);
    if (this.spinner && !this.timer) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private draw(): void {
    if (!this.timer) return;
    const frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
    this.frame = (this.frame + 1) % frames.length;
    const doing = [...this.current].map(([host, step]) => `${host}: ${step}`).join(", ");
    // A terminal whose size is unknown (a pty without a window) reports 0 columns.
    const columns = this.out.columns || 80;
    this.out.write(`\r${frames[this.frame]} ${doing}`.slice(0, columns));
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.drawn = false;
  }
}

/** Asks y/N on the terminal; only "y" or "yes" agrees. Ctrl-C at the prompt declines. */
async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const abort = new AbortController();
  rl.on("SIGINT", () => abort.abort());
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal: abort.signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    process.stderr.write("\n");
    return false;
  } finally {
    rl.close();
  }
}

/** The error for a person: message and remedy, never a stack trace (that goes to the log file). */
function fail(error: unknown, code: ExitCode): ExitCode {
  process.stderr.write(`nix-deploy: ${describeError(error)}\n`);
  return code;
}

async function main(argv: string[]): Promise<ExitCode> {
  // The command is the first word; options may come before it, and its own options after.
  const first = parseArgs({
    args: argv,
    options: { ...parseArgsOptions(GLOBAL_OPTIONS), version: { type: "boolean" } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const commandToken = first.tokens.find((t) => t.kind === "positional");
  if (!commandToken) {
    if (first.values.version) {
      // Loaded only here: server.ts brings the MCP SDK, which the commands do not need.
      process.stdout.write(`${(await import("./server.js")).packageVersion}\n`);
      return EXIT.ok;
    }
    if (first.values.help) {
      process.stdout.write(usage());
      return EXIT.ok;
    }
    process.stderr.write(usage());
    return EXIT.usage;
  }
  const cmd = COMMANDS.find((c) => c.name === commandToken.value) as AnyCommand | undefined;
  if (!cmd) {
    return fail(
      new UsageError(
        `unknown command "${commandToken.value}"`,
        `commands: ${COMMANDS.map((c) => c.name).join(", ")}; nix-deploy --help explains them`,
      ),
      EXIT.usage,
    );
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv.filter((_, i) => i !== commandToken.index),
      options: parseArgsOptions({ ...GLOBAL_OPTIONS, ...cmd.options }),
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    return fail(
      new UsageError((error as Error).message, `nix-deploy ${cmd.name} --help lists the options`),
      EXIT.usage,
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
        formatSchemaIssues(parsed.error),
        `nix-deploy ${cmd.name} --help shows what is expected`,
      );
    input = parsed.data;
  } catch (error) {
    return fail(error, EXIT.usage);
  }

  const question = cmd.confirm?.(input);
  if (question && !values.yes) {
    if (!process.stdin.isTTY)
      return fail(
        new UsageError(
          `${cmd.name} changes hosts and asks first, but stdin is not a terminal to answer on`,
          "run it in a terminal, or pass --yes to confirm without asking",
        ),
        EXIT.usage,
      );
    if (!(await askYesNo(question))) {
      process.stderr.write("nix-deploy: nothing was changed\n");
      return EXIT.interrupted;
    }
  }

  const json = Boolean(values.json);
  const env = process.env;
  // A person reads stderr: only warnings there unless LOG_LEVEL says otherwise; the file keeps info.
  const { log } = createLogger({ env, stderrLevel: env.LOG_LEVEL ?? "warn" });
  const engine = createEngine({
    flake: values.flake as string | undefined,
    inventoryFile: values.inventory as string | undefined,
    log,
    env,
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
      await cmd.tool.run(engine, input, {
        signal: abort.signal,
        progress: async (message: string) => progress.line(message),
        // A tool that needs a yes mid-run asks on the terminal; without one it cannot ask.
        confirm: async (question: string) =>
          values.yes ? true : process.stdin.isTTY ? askYesNo(question) : undefined,
      }),
    );
    progress.stop();
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(`${cmd.render(result).join("\n")}\n`);
    return interrupted ? EXIT.interrupted : cmd.exitCode(result);
  } catch (error) {
    progress.stop();
    if (interrupted) return fail(new UserError("interrupted"), EXIT.interrupted);
    if (!(error instanceof UserError)) engine.log.error({ err: error, command: cmd.name }, "command failed");
    return fail(error, error instanceof UserError ? EXIT.usage : EXIT.failed);
  } finally {
    process.off("SIGINT", onSigint);
    await engine.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = fail(error, EXIT.failed);
  },
);
