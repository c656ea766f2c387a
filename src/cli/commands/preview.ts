import previewUpdatesTool from "../../tools/preview_updates.js";
import { ALL_OPTION, command, EXIT, flag, selectors } from "../command.js";
import { hostLine, width } from "../format.js";

export default command({
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
      field: "inputs",
    },
    "eval-only": { type: "boolean", description: "compare derivations without building", field: "evalOnly" },
  },
  positionals: "hosts",
  tool: previewUpdatesTool,
  input: (values, positionals) => ({
    hosts: selectors(values, positionals, false),
    inputs: values.input,
    evalOnly: flag(values["eval-only"]),
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
});
