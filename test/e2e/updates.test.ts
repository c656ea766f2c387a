import { describe, expect, it } from "vitest";
import { skipFleetReason } from "../fleet/harness.js";
import { bumpNixpkgs, snapshotTree } from "../support/updates.js";
import { useFleetAndServer } from "./client.js";

type PreviewOut = {
  status: string;
  mode: string;
  inputs: Array<{ input: string; oldRev?: string; newRev?: string; oldDate?: string; newDate?: string }>;
  hosts: Array<{
    host: string;
    packageChanges: string[];
    added: string[];
    removed: string[];
    changeCount: number;
    closureSizeDelta?: number;
    error?: string;
  }>;
};

const skip = skipFleetReason();

describe.skipIf(skip)("flake updates on the simulated fleet", () => {
  const context = useFleetAndServer();
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await context.server.client.callTool({ name, arguments: args }, undefined, {
      timeout: 300_000,
    });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result;
  };

  it("previews a firefox bump: exactly that change where firefox is, nothing elsewhere, nothing written", async () => {
    await bumpNixpkgs(context.fleet, { firefox: "121.0" });
    const before = snapshotTree(context.fleet.flakeDir);
    const result = await call("preview_updates", { hosts: ["all"] });
    const out = result.structuredContent as PreviewOut;
    expect(out.status).toBe("succeeded");
    expect(out.inputs).toHaveLength(1);
    expect(out.inputs[0]).toMatchObject({ input: "nixpkgs" });
    expect(out.inputs[0]?.newRev).toMatch(/^[0-9a-f]{40}$/);
    expect(out.inputs[0]?.newRev).not.toBe(out.inputs[0]?.oldRev);
    expect(out.inputs[0]?.newDate).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const byHost = Object.fromEntries(out.hosts.map((h) => [h.host, h]));
    for (const host of ["p620", "razer"]) {
      expect(byHost[host]).toMatchObject({
        packageChanges: ["firefox: 120.0 → 121.0"],
        added: [],
        removed: [],
        changeCount: 1,
      });
    }
    for (const host of ["p510", "samsung"]) {
      expect(byHost[host]).toMatchObject({ packageChanges: [], added: [], removed: [], changeCount: 0 });
    }
    expect(snapshotTree(context.fleet.flakeDir)).toEqual(before);
    // A few hundred tokens per host at most.
    expect(JSON.stringify(result.content).length).toBeLessThan(4 * 4 * 400);

    const evaluated = (
      await call("preview_updates", { hosts: ["p620", "p510"], inputs: ["nixpkgs"], evalOnly: true })
    ).structuredContent as PreviewOut;
    expect(evaluated.mode).toBe("eval");
    expect(evaluated.hosts.map((h) => [h.host, h.packageChanges])).toEqual([
      ["p620", ["firefox: 120.0 → 121.0"]],
      ["p510", []],
    ]);
    expect(snapshotTree(context.fleet.flakeDir)).toEqual(before);
  });
});
