/**
 * One evaluation for many hosts, on the simulated fleet: a deployment of four hosts with chunks of
 * two starts two evaluator processes, builds from their derivations without evaluating again, and
 * evaluates no host twice. The deployer's nix is a wrapper that records each call's arguments.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DeploymentStore } from "../../src/engine/deploy/record.js";
import { skipFleetReason } from "../fleet/harness.js";
import { deployVia, useFleetAndServer } from "./client.js";

const skip = skipFleetReason();

describe.skipIf(skip)("evaluating a deployment's hosts together", () => {
  let calls = "";
  let spans = "";
  const context = useFleetAndServer(undefined, () => {
    calls = join(context.fleet.dir, "nix-calls");
    const wrapper = join(context.fleet.dir, "nix-recording");
    spans = join(context.fleet.dir, "nix-spans");
    // One line per call: its arguments, tab-separated; then the real nix, its start and end marked
    // in the spans file (`+build`, `-build`) to see how many run at once.
    writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `(IFS='\t'; printf '%s\\n' "$*") >> '${calls}'`,
        `for a in "$@"; do case $a in eval|build|copy) kind=$a; break ;; esac; done`,
        `echo "+$kind" >> '${spans}'`,
        'nix "$@"',
        "status=$?",
        `echo "-$kind" >> '${spans}'`,
        'exit "$status"',
        "",
      ].join("\n"),
    );
    chmodSync(wrapper, 0o755);
    return { NIX_DEPLOY_NIX: wrapper, NIX_DEPLOY_EVAL_CHUNK: "2" };
  });

  it("starts one evaluator per chunk of hosts and builds from its derivations", async () => {
    for (const host of ["p510", "p620", "razer", "samsung"])
      context.fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "redis" "'));
    await context.fleet.commit("redis everywhere");
    writeFileSync(calls, "");
    const result = await deployVia(context.server, { hosts: ["all"], mode: "fast" });
    expect(result.hosts.map((h) => h.error).filter(Boolean)).toEqual([]);
    expect(result.hosts.map((h) => h.outcome)).toEqual(["deployed", "deployed", "deployed", "deployed"]);
    const lines = readFileSync(calls, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    const evaluations = lines.filter(
      (args) => args.includes("--apply") && args.some((a) => a.endsWith("#nixosConfigurations")),
    );
    // The host names (one attrNames evaluation), then two chunks of two hosts each.
    expect(evaluations.map((args) => args.at(-1))).toEqual([
      "builtins.attrNames",
      expect.stringContaining("builtins.fromJSON"),
      expect.stringContaining("builtins.fromJSON"),
    ]);
    // No build names a flake attribute (which would evaluate the host again): only derivations.
    const builds = lines.filter((args) => args.includes("build"));
    expect(builds.length).toBeGreaterThan(0);
    for (const args of builds) {
      expect(args.some((a) => a.includes("#"))).toBe(false);
      expect(args.filter((a) => a.endsWith(".drv") || a.endsWith(".drv^out")).length).toBeGreaterThan(0);
    }
  });

  it("in standard mode, the security audit reads the same evaluation: no host of the flake is evaluated twice", async () => {
    for (const host of ["p510", "p620", "razer", "samsung"])
      context.fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "grafana" "'));
    await context.fleet.commit("grafana everywhere");
    writeFileSync(calls, "");
    const result = await deployVia(context.server, { hosts: ["all"] });
    expect(result.hosts.map((h) => h.error).filter(Boolean)).toEqual([]);
    expect(result.checks.find((c) => c.check === "security audit")?.detail).toMatch(
      /4 hosts evaluated against HEAD \([0-9a-f]{7}\): 0 new open ports/,
    );
    const lines = readFileSync(calls, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    const hostEvaluations = lines.filter(
      (args) => args.includes("--apply") && args.at(-1)?.includes("builtins.fromJSON"),
    );
    // The working tree's hosts: two chunks, each with the system and what the audit reads.
    const current = hostEvaluations.filter((args) =>
      args.includes(`${context.fleet.flakeDir}#nixosConfigurations`),
    );
    expect(current).toHaveLength(2);
    for (const args of current) expect(args.at(-1)).toMatch(/drvPath[\s\S]*networking\.firewall/);
    // The audit's base (the last commit) is another flake, evaluated for the comparison alone.
    const others = hostEvaluations.filter((args) => !current.includes(args));
    for (const args of others)
      expect(args.find((a) => a.endsWith("#nixosConfigurations"))).toMatch(/^git\+file:.*\?rev=/);
  });

  it("deploy.limits: evaluator processes, chunks, copies and activations at once are the call's", async () => {
    for (const host of ["p510", "p620", "razer", "samsung"])
      context.fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "nginx" "'));
    await context.fleet.commit("nginx everywhere");
    writeFileSync(calls, "");
    writeFileSync(spans, "");
    // The server's environment says chunks of two: the call's one wins.
    const result = await deployVia(context.server, {
      hosts: ["all"],
      mode: "fast",
      limits: { build: 1, copy: 1, activate: 1, evalChunk: 1 },
    });
    expect(result.hosts.map((h) => h.outcome)).toEqual(["deployed", "deployed", "deployed", "deployed"]);
    // Chunks of one: each host's evaluation is one process of its own, a `nix build` of its
    // toplevel (evaluation and build in one) where nothing else reads the host's configuration.
    const evaluations = readFileSync(calls, "utf8")
      .trim()
      .split("\n")
      .filter(
        (l) =>
          l.includes("builtins.fromJSON") ||
          /#nixosConfigurations\.".+"\.config\.system\.build\.toplevel/.test(l),
      );
    expect(evaluations).toHaveLength(4);
    for (const host of ["p510", "p620", "razer", "samsung"])
      expect(
        evaluations.filter((l) => l.includes(`"${host}"`)),
        host,
      ).toHaveLength(1);
    // Never more than one evaluator or build process at a time.
    let running = 0;
    let most = 0;
    for (const line of readFileSync(spans, "utf8").trim().split("\n")) {
      if (line === "+eval" || line === "+build") most = Math.max(most, ++running);
      if (line === "-eval" || line === "-build") running--;
    }
    expect(most).toBe(1);
    // One copy and one activation at a time, by the phases in the deployment's record.
    const record = new DeploymentStore(context.fleet.env).load(result.deploymentId);
    // The report says which limits the deployment ran with.
    const report = String(
      (
        (await context.server.client.readResource({ uri: `nix-deploy://reports/${result.deploymentId}` }))
          .contents[0] as { text: string }
      ).text,
    );
    expect(report).toContain(
      "| Limits | build 1, copy 1, activate 1 at once; evalChunk 1 hosts per evaluation |",
    );
    for (const name of ["copy", "activate"]) {
      const spansOf = Object.values(record?.hosts ?? {})
        .flatMap((h) => h.phases.filter((p) => p.name === name))
        .map((p) => [Date.parse(p.startedAt), Date.parse(p.startedAt) + (p.durationMs ?? 0)] as const)
        .sort((a, b) => a[0] - b[0]);
      expect(spansOf, name).toHaveLength(4);
      for (let i = 1; i < spansOf.length; i++)
        expect(spansOf[i]?.[0], name).toBeGreaterThanOrEqual(
          (spansOf[i - 1] as readonly number[])[1] as number,
        );
    }
  });

  it("hosts built on a build host are evaluated in the deployment's chunks too, never on their own", async () => {
    for (const host of ["p620", "razer"])
      context.fleet.editHost(host, (t) => t.replace('packages = [ "', 'packages = [ "fail2ban" "'));
    await context.fleet.commit("fail2ban on two");
    writeFileSync(calls, "");
    const result = await deployVia(context.server, {
      hosts: ["p620", "razer"],
      mode: "fast",
      buildHost: "p510",
    });
    expect(result.hosts.map((h) => h.outcome)).toEqual(["deployed", "deployed"]);
    const lines = readFileSync(calls, "utf8").trim().split("\n");
    // One chunk of both hosts; no evaluation of a single host's drvPath beside it.
    expect(lines.filter((l) => l.includes("builtins.fromJSON"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("drvPath") && !l.includes("builtins.fromJSON"))).toEqual([]);
  });
});
