import rollbackTool from "../../tools/rollback.js";
import {
  ALL_OPTION,
  CONFIRM_TIMEOUT_OPTION,
  command,
  EXIT,
  flag,
  INSTALL_BOOTLOADER_OPTION,
  numberOption,
  selectors,
} from "../command.js";
import { failureLines, generations, hostLine, width } from "../format.js";

export default command({
  name: "rollback",
  synopsis:
    "rollback HOSTS...|@tag|--all [--generation N] [--home-manager USER] [--confirm-timeout S] [--install-bootloader]",
  summary: "return hosts to the previous (or a given) generation, under magic rollback",
  options: {
    ...ALL_OPTION,
    generation: {
      type: "string",
      value: "N",
      description: "the generation to return to (default: the previous)",
      field: "generation",
    },
    "home-manager": {
      type: "string",
      value: "USER",
      description: "return USER's home-manager generation instead of the system's",
      field: "homeManagerUser",
    },
    ...CONFIRM_TIMEOUT_OPTION,
    "install-bootloader": INSTALL_BOOTLOADER_OPTION,
  },
  positionals: "hosts",
  tool: rollbackTool,
  input: (values, positionals) => ({
    hosts: selectors(values, positionals, true),
    generation: numberOption(values.generation),
    homeManagerUser: values["home-manager"],
    confirmTimeoutSec: numberOption(values["confirm-timeout"]),
    installBootloader: flag(values["install-bootloader"]),
  }),
  confirm: (input) =>
    `Roll back ${input.homeManagerUser ? `${input.homeManagerUser}'s home-manager on ` : ""}${input.hosts.join(", ")} to ${input.generation === undefined ? "the previous generation" : `generation ${input.generation}`}?`,
  // A generation no host has is bad input (exit 2), as the exit status table says.
  exitCode: (result) =>
    result.status === "succeeded"
      ? EXIT.ok
      : result.hosts.every((h) => h.outcome === "refused" || h.outcome === "switched")
        ? EXIT.usage
        : EXIT.failed,
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
});
