import { hostNameSchema } from "../engine/fleet/inventory.js";
import { hostStatusResultSchema } from "../engine/fleet/overview.js";
import { baseInput } from "../engine/schemas.js";
import { defineTool } from "./define.js";

export default defineTool({
  name: "host_status",
  title: "Host status",
  description:
    "For one host: the system it runs now, its generations (number, date, which is current) and the state of " +
    "its units (failed units, is-system-running). An unreachable host is reported, not an error.",
  input: {
    host: hostNameSchema.describe("a host name from fleet_list, e.g. p620"),
    ...baseInput,
  },
  output: hostStatusResultSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  operation: async () => (await import("../engine/fleet/overview.js")).describeHost,
});
