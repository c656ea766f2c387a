import uploadKeysTool from "../../tools/upload_keys.js";
import { ALL_OPTION, command, EXIT, selectors } from "../command.js";
import { failureLines, hostLine, keyLines, width } from "../format.js";

export default command({
  name: "upload-keys",
  synopsis: "upload-keys HOSTS...|@tag|--all [--key NAME]...",
  summary: "upload the inventory's keys (secrets kept out of the Nix store) now, without deploying",
  options: {
    ...ALL_OPTION,
    key: {
      type: "string",
      multiple: true,
      value: "NAME",
      description: "upload only this key (repeatable; default every key of the hosts)",
      field: "keys",
    },
  },
  positionals: "hosts",
  tool: uploadKeysTool,
  input: (values, positionals) => ({
    hosts: selectors(values, positionals, true),
    keys: values.key,
  }),
  confirm: (input) =>
    `Upload ${input.keys?.join(", ") ?? "every key"} to ${input.hosts.join(", ")}, replacing the keys there?`,
  exitCode: (result) => (result.status === "succeeded" ? EXIT.ok : EXIT.failed),
  render: (result) => {
    const w = width(result.hosts);
    return [
      ...result.hosts.flatMap((h) => [
        hostLine(h.host, h.outcome, w),
        ...keyLines(h, w),
        ...failureLines(h, w),
      ]),
      result.summary,
      `next: ${result.next}`,
    ];
  },
});
