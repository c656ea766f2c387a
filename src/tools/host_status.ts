import { hostNameSchema } from "../engine/fleet/inventory.js";
import { describeHost, hostStatusResultSchema } from "../engine/fleet/overview.js";
import { defineTool } from "./define.js";
import { flakeInput } from "./fleet_list.js";

export default defineTool({
  name: "host_status",
  title: "Host status",
  description:
    "For one host: the system it runs now, its generations (number, date, which is current) and the state of " +
    "its units (failed units, is-system-running). An unreachable host is reported, not an error.",
  input: {
    host: hostNameSchema.describe("a host name from fleet_list, e.g. p620"),
    flake: flakeInput,
  },
  output: hostStatusResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  run: (engine, input, context) => describeHost(engine, { ...input, signal: context.signal }),
});
