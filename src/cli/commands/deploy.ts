import deployTool from "../../tools/deploy.js";
import {
  ALL_OPTION,
  CONFIRM_TIMEOUT_OPTION,
  command,
  EXIT,
  flag,
  INSTALL_BOOTLOADER_OPTION,
  MODE_OPTION,
  numberOption,
  selectors,
} from "../command.js";
import { failureLines, generations, hostLine, keyLines, seconds, width } from "../format.js";

/** The deployment's limits (engine deploy/limits.ts), one flag each; the tool takes them as `limits`. */
const LIMIT_OPTIONS = {
  "build-limit": {
    type: "string",
    value: "N",
    description: "evaluator and build processes at once (default 2, or NIX_DEPLOY_BUILD_LIMIT)",
  },
  "copy-limit": {
    type: "string",
    value: "N",
    description: "closures copied at once (default 10, or NIX_DEPLOY_COPY_LIMIT)",
  },
  "activate-limit": {
    type: "string",
    value: "N",
    description: "hosts activating at once (default 10, or NIX_DEPLOY_ACTIVATE_LIMIT)",
  },
  "eval-chunk": {
    type: "string",
    value: "N",
    description: "hosts per evaluator process (default by free memory, or NIX_DEPLOY_EVAL_CHUNK)",
  },
} as const;

function limitsOf(values: Record<string, unknown>) {
  const limits = {
    build: numberOption(values["build-limit"] as string | undefined),
    copy: numberOption(values["copy-limit"] as string | undefined),
    activate: numberOption(values["activate-limit"] as string | undefined),
    evalChunk: numberOption(values["eval-chunk"] as string | undefined),
  };
  return Object.values(limits).some((v) => v !== undefined) ? limits : undefined;
}

export default command({
  name: "deploy",
  synopsis:
    "deploy HOSTS...|@tag|--all [--mode standard|fast|emergency] [--goal switch|boot|test|dry-activate] [--dry-run] [--confirm-timeout S] [--substitute-on-destination] [--install-bootloader] [--build-host HOST] [--signing-key FILE] [--cache URL|none] [--ask-sudo-password] [--strategy canary|batches] [--canary HOST]... [--batch-size N|N%] [--on-failure stop|rollback] [--build-limit N] [--copy-limit N] [--activate-limit N] [--eval-chunk N] [--resume ID|latest]",
  summary:
    "build, skip unchanged hosts, copy, activate under magic rollback, check health; rolls back on failure",
  options: {
    ...ALL_OPTION,
    ...MODE_OPTION,
    goal: {
      type: "string",
      value: "GOAL",
      description: "switch (default), boot, test or dry-activate",
      field: "goal",
      complete: ["switch", "boot", "test", "dry-activate"],
    },
    "dry-run": {
      type: "boolean",
      description: "build, compare and copy, but do not activate",
      field: "dryRun",
    },
    ...CONFIRM_TIMEOUT_OPTION,
    "substitute-on-destination": {
      type: "boolean",
      description: "let hosts fetch paths from their binary caches instead of receiving them from here",
      field: "substituteOnDestination",
    },
    "install-bootloader": INSTALL_BOOTLOADER_OPTION,
    strategy: {
      type: "string",
      value: "STRATEGY",
      description:
        "parallel (default), canary (--canary hosts first, then the rest) or batches (--batch-size at a time)",
      field: "strategy",
      complete: ["parallel", "canary", "batches"],
    },
    canary: {
      type: "string",
      multiple: true,
      value: "HOST|@TAG",
      description: "with --strategy canary: the first wave (repeatable; default the first host)",
      field: "canary",
    },
    "batch-size": {
      type: "string",
      value: "N|N%",
      description: "with --strategy batches: hosts per wave (default 25%)",
      field: "batchSize",
    },
    "on-failure": {
      type: "string",
      value: "stop|rollback",
      description: "when a wave fails: stop (default), or also roll back the hosts of earlier waves",
      field: "onFailure",
      complete: ["stop", "rollback"],
    },
    "build-host": {
      type: "string",
      value: "HOST",
      description: "build on this host of the fleet, then copy from there to each host",
      field: "buildHost",
      complete: "hosts",
    },
    "signing-key": {
      type: "string",
      value: "FILE",
      description:
        "sign each closure with this Nix secret key before copying it (hosts that do not trust the login user)",
      field: "signingKey",
    },
    ...LIMIT_OPTIONS,
    cache: {
      type: "string",
      value: "URL|none",
      description:
        "push each closure once to this binary cache of the inventory, hosts substitute from it; none skips the inventory's",
      field: "cache",
    },
    resume: {
      type: "string",
      value: "ID",
      description: 'finish an interrupted deployment: its id or "latest"',
      field: "resume",
    },
  },
  positionals: "hosts",
  tool: deployTool,
  input: (values, positionals) => ({
    // A resumed deployment knows its hosts; a new one must name them.
    hosts: selectors(values, positionals, values.resume === undefined),
    mode: values.mode,
    goal: values.goal,
    dryRun: flag(values["dry-run"]),
    confirmTimeoutSec: numberOption(values["confirm-timeout"]),
    substituteOnDestination: flag(values["substitute-on-destination"]),
    installBootloader: flag(values["install-bootloader"]),
    strategy: values.strategy,
    canary: values.canary,
    batchSize: values["batch-size"],
    onFailure: values["on-failure"],
    buildHost: values["build-host"],
    signingKey: values["signing-key"],
    limits: limitsOf(values),
    cache: values.cache,
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
        ...keyLines(h, w),
        ...failureLines(h, w),
        ...(h.notes ?? []).map((n) => hostLine(h.host, `  note: ${n}`, w)),
      ]),
      ...(result.waves ?? []).map((w) => `wave ${w.name}: ${w.outcome} (${w.hosts.join(", ")})`),
      `deployment ${result.deploymentId} ${result.status}: ${result.summary}`,
      `next: ${result.next}`,
    ];
  },
});
