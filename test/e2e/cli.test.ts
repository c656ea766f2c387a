import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testBuildResultSchema } from "../../src/engine/deploy/build.js";
import { preflightResultSchema } from "../../src/engine/deploy/preflight.js";
import { rollbackResultSchema } from "../../src/engine/deploy/rollback.js";
import { deployResultSchema } from "../../src/engine/deploy/schemas.js";
import { fleetListResultSchema } from "../../src/engine/fleet/overview.js";
import { reportSchema } from "../../src/engine/report/report.js";
import { issueCheckResultSchema } from "../../src/engine/updates/issue-check.js";
import { type SimFleet, skipFleetReason, startFleet } from "../fleet/harness.js";
import { type FakeGithub, startFakeGithub } from "../support/fake-github.js";
import { HOSTILE } from "../support/hostile.js";
import { CHANGING, scratchFlake } from "../support/issue-check.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const PWNED = "/tmp/nix-deploy-pwned";
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
const hasNix = spawnSync("nix", ["--version"], { stdio: "ignore" }).status === 0;

/**
 * The built CLI as a person or a script runs it. stdin is a pipe, never a terminal, so commands
 * that change hosts need --yes. Every run ends before the call returns (execa waits for it).
 */
function cli(args: string[], env: Record<string, string>) {
  return execa(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdin: "pipe",
    reject: false,
    timeout: 300_000,
  });
}

describe("the CLI without a fleet", () => {
  it("lists its commands and exit codes, and refuses an unknown command with exit 2", async () => {
    const help = await cli(["--help"], {});
    expect(help.exitCode).toBe(0);
    for (const name of [
      "fleet",
      "status",
      "preflight",
      "validate",
      "scan",
      "audit",
      "build",
      "deploy",
      "rollback",
      "preview",
      "issues",
      "update",
      "smart-update",
      "restore-lock",
      "commit",
      "report",
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    expect(help.stdout).toMatch(/^ {2}130 +interrupted/m);
    const deployHelp = await cli(["deploy", "--help"], {});
    expect(deployHelp.stdout).toContain("--mode MODE");
    expect(deployHelp.stdout).toContain("Exit status:");
    const unknown = await cli(["frobnicate"], {});
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses bad options and values with exit 2 and no stack trace", async () => {
    for (const args of [
      ["deploy", "p620", "--mode", "reckless", "--yes"],
      ["deploy", "p620", "--confirm-timeout", "soon", "--yes"],
      ["deploy", "--yes"],
      ["deploy", "p620", "--all", "--yes"],
      ["rollback", "p620", "--generation", "-3", "--yes"],
      ["fleet", "--bogus"],
    ]) {
      const run = await cli(args, {});
      expect(run.exitCode, args.join(" ")).toBe(2);
      expect(run.stderr, args.join(" ")).toMatch(/^nix-deploy: /);
      expect(run.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
      expect(run.stdout, args.join(" ")).toBe("");
    }
  });

  it("with --json, an error is one JSON document on stdout too, in the CLI's words", async () => {
    const run = await cli(["deploy", "p620", "--confirm-timeout", "99999", "--yes", "--json"], {});
    expect(run.exitCode).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      error: "--confirm-timeout: Too big: expected number to be <=3600",
      remedy: "nix-deploy deploy --help shows what is expected",
      exitCode: 2,
    });
    expect(run.stderr).toContain("nix-deploy: --confirm-timeout: Too big");
    expect(run.stderr).not.toContain("confirmTimeoutSec");
    const unknown = await cli(["frobnicate", "--json"], {});
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: 'unknown command "frobnicate"', exitCode: 2 });
  });

  it.skipIf(!hasNix)("completes commands, flags and the flake's hosts and tags in bash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nix-deploy-complete-"));
    try {
      writeFileSync(
        join(dir, "flake.nix"),
        "{ outputs = { self }: { nixosConfigurations = { alpha = { }; beta = { }; }; }; }\n",
      );
      writeFileSync(join(dir, "nix-deploy.json"), JSON.stringify({ hosts: { alpha: { tags: ["web"] } } }));
      // nix-deploy on the PATH, as an installed CLI is.
      mkdirSync(join(dir, "bin"));
      writeFileSync(join(dir, "bin", "nix-deploy"), `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`, {
        mode: 0o755,
      });
      const script = (await cli(["completions", "bash"], {})).stdout;
      const complete = async (line: string) => {
        const words = line.split(" ");
        const run = await execa(
          "bash",
          [
            "-c",
            `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _nix_deploy; printf '%s\\n' "\${COMPREPLY[@]}"`,
          ],
          { env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}`, NIX_DEPLOY_FLAKE: dir } },
        );
        return run.stdout.split("\n").filter(Boolean);
      };
      expect(await complete("nix-deploy dep")).toEqual(["deploy"]);
      expect(await complete("nix-deploy deploy --dry")).toEqual(["--dry-run"]);
      expect(await complete("nix-deploy deploy --mode e")).toEqual(["emergency"]);
      expect(await complete("nix-deploy deploy ")).toEqual(["alpha", "beta", "@web"]);
      expect(await complete("nix-deploy status b")).toEqual(["beta"]);
      for (const shell of ["zsh", "fish"]) {
        const other = await cli(["completions", shell], {});
        expect(other.exitCode).toBe(0);
        expect(other.stdout).toContain("nix-deploy __complete");
      }
      expect((await cli(["completions", "tcsh"], {})).exitCode).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasScript)(
    "asks y/N on a terminal: no leaves with 130 and nothing done, yes goes on",
    async () => {
      // script(1) gives the CLI a terminal; the flake does not exist, so a "yes" ends at the flake check.
      const onTerminal = (answer: string, args: string) =>
        execa("script", ["-qec", `${process.execPath} ${CLI} ${args}`, "/dev/null"], {
          input: answer,
          reject: false,
          timeout: 60_000,
        });
      const no = await onTerminal("n\n", "deploy p620 --flake /nonexistent");
      expect(no.stdout).toContain("Deploy to p620 (standard, switch)? [y/N]");
      expect(no.stdout).toContain("nothing was changed");
      expect(no.exitCode).toBe(130);
      const yes = await onTerminal("y\n", "rollback p620 --flake /nonexistent");
      expect(yes.stdout).toContain("Roll back p620 to the previous generation? [y/N]");
      expect(yes.stdout).toContain("no flake.nix in /nonexistent");
      expect(yes.exitCode).toBe(2);
      // A dry run changes nothing on the hosts, so it does not ask.
      const dry = await onTerminal("", "deploy p620 --dry-run --flake /nonexistent");
      expect(dry.stdout).not.toContain("[y/N]");
      expect(dry.exitCode).toBe(2);
    },
  );

  it("checks nixpkgs issues against a fake GitHub: --json validates, a block exits 3", async () => {
    const fake: FakeGithub = await startFakeGithub();
    const scratch = scratchFlake();
    try {
      const env = { NIX_DEPLOY_GITHUB_API: fake.url, XDG_STATE_HOME: scratch.state, GITHUB_TOKEN: "" };
      const packages = CHANGING.map((p) => `${p.name}@${p.oldVersion}..${p.newVersion}`);
      const run = await cli(["issues", ...packages, "--json", "--flake", scratch.flake], env);
      expect(run.exitCode, run.stderr).toBe(3);
      const result = issueCheckResultSchema.parse(JSON.parse(run.stdout));
      expect(result.verdict.verdict).toBe("block");
      const human = await cli(["issues", "htop", "--flake", scratch.flake], env);
      expect(human.stdout).toMatch(/^verdict: /m);
      expect(human.exitCode).toBe(human.stdout.includes("verdict: block") ? 3 : 0);
      const bad = await cli(["issues", "repo:evil", "--flake", scratch.flake], env);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain("a package name");
    } finally {
      await fake.stop();
      rmSync(scratch.root, { recursive: true, force: true });
    }
  });
});

const skip = skipFleetReason();

describe.skipIf(skip)("the CLI on the simulated fleet", () => {
  let fleet: SimFleet;
  let env: Record<string, string>;
  const generation = async (host: string) =>
    Number(
      (await fleet.onHost(host, "readlink /nix/var/nix/profiles/system")).stdout
        .trim()
        .match(/-(\d+)-link$/)?.[1],
    );

  beforeAll(async () => {
    fleet = await startFleet();
    env = { ...fleet.env, NIX_DEPLOY_FLAKE: fleet.flakeDir };
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it("fleet --json prints one document that validates against the fleet_list schema", async () => {
    const run = await cli(["fleet", "--json"], env);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = fleetListResultSchema.parse(JSON.parse(run.stdout));
    expect(result.hosts.map((h) => [h.name, h.reachable])).toEqual([
      ["p510", true],
      ["p620", true],
      ["razer", true],
      ["samsung", true],
    ]);
    const human = await cli(["fleet"], env);
    expect(human.stdout).toMatch(/^p620 +\| root@127\.0\.0\.1:\d+ .*up \/nix\/store\//m);
  });

  it("status of an unknown host exits 2 with the hosts there are; hostile names never run", async () => {
    const run = await cli(["status", "nosuchhost"], env);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('unknown host "nosuchhost"');
    expect(run.stderr).toContain("known hosts: p510, p620, razer, samsung");
    rmSync(PWNED, { force: true });
    for (const name of HOSTILE) {
      const status = await cli(["status", "--", name], env);
      expect(status.exitCode, JSON.stringify(name)).toBe(2);
    }
    for (const name of [
      "$(touch /tmp/nix-deploy-pwned)",
      "a; touch /tmp/nix-deploy-pwned",
      "-oProxyCommand=touch /tmp/nix-deploy-pwned",
    ]) {
      const deploy = await cli(["deploy", "--yes", "--dry-run", "--", name], env);
      expect(deploy.exitCode, name).toBe(2);
      expect(deploy.stderr, name).toContain("unknown host");
    }
    expect(existsSync(PWNED)).toBe(false);
  });

  it("deploy without --yes and without a terminal refuses with exit 2 and changes nothing", async () => {
    const before = await generation("p620");
    const run = await cli(["deploy", "p620"], env);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("stdin is not a terminal");
    expect(run.stderr).toContain("--yes");
    const rollback = await cli(["rollback", "p620"], env);
    expect(rollback.exitCode).toBe(2);
    expect(await generation("p620")).toBe(before);
  });

  it("build and preflight --json validate against their tools' schemas", async () => {
    const build = await cli(["build", "p620", "--json"], env);
    expect(build.exitCode, build.stderr).toBe(0);
    expect(testBuildResultSchema.parse(JSON.parse(build.stdout)).hosts.map((h) => h.ok)).toEqual([true]);
    const preflight = await cli(["preflight", "p620", "p510", "--json"], env);
    const result = preflightResultSchema.parse(JSON.parse(preflight.stdout));
    expect(preflight.exitCode).toBe(result.status === "fail" ? 3 : 0);
  });

  it("deploy --yes --json deploys a change, validates against the deploy schema and exits 0", async () => {
    fleet.editHost("p620", (text) => text.replace('packages = [ "', 'packages = [ "nginx" "'));
    await fleet.commit("nginx on p620");
    const run = await cli(["deploy", "p620", "--yes", "--json"], env);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = deployResultSchema.parse(JSON.parse(run.stdout));
    expect(result.hosts.map((h) => [h.host, h.outcome, h.generationBefore, h.generationAfter])).toEqual([
      ["p620", "deployed", 1, 2],
    ]);
    expect(result.hosts[0]?.packageChanges).toEqual(["nginx: ∅ → 1.24.0"]);
    // With --json the progress lines go to stderr, so stdout stays one document.
    expect(run.stderr).toMatch(/^p620 +\| building$/m);
  });

  it("shows per-host progress and the generation change, and exits 0 when nothing changed", async () => {
    fleet.editHost("p620", (text) => text.replace('packages = [ "', 'packages = [ "postgresql" "'));
    await fleet.commit("postgresql on p620");
    const run = await cli(["deploy", "p620", "--yes"], env);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^p620 +\| building$/m);
    expect(run.stdout).toMatch(/^p620 +\| deployed 2 → 3 \(/m);
    expect(run.stdout).toMatch(/^p620 +\| {3}postgresql: ∅ → /m);
    expect(run.stdout).not.toContain("\r");
    const again = await cli(["deploy", "p620", "--yes"], env);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^p620 +\| unchanged 3 → 3/m);
  });

  it.skipIf(!hasScript)(
    "on a terminal shows a spinner with the hosts' steps; --json there stays one document",
    async () => {
      fleet.editHost("p510", (text) => text.replace('packages = [ "', 'packages = [ "postgresql" "'));
      await fleet.commit("postgresql on p510");
      // script(1) gives the CLI a terminal; the command line holds only this test's constants.
      const onTerminal = (args: string) =>
        execa("script", ["-qec", `${process.execPath} ${CLI} ${args}`, "/dev/null"], {
          env: { ...process.env, ...env },
          input: "",
          reject: false,
          timeout: 120_000,
        });
      const run = await onTerminal("deploy p510 --yes");
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.stdout).toMatch(/\r[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] p510: /);
      // The result's first line follows the spinner's erase sequence, so it is not at a line start.
      expect(run.stdout).toMatch(/p510 +\| deployed 1 → 2 /);
      const json = await onTerminal("fleet --json");
      expect(json.exitCode).toBe(0);
      expect(fleetListResultSchema.parse(JSON.parse(json.stdout)).hosts).toHaveLength(4);
    },
  );

  it("a deploy whose activation fails exits 1 with the host rolled back", async () => {
    const before = await generation("razer");
    fleet.editHost("razer", (text) =>
      text
        .replace('packages = [ "', 'packages = [ "nginx" "')
        .replace("activation = { fail = false;", "activation = { fail = true;"),
    );
    await fleet.commit("razer's activation fails");
    const run = await cli(["deploy", "razer", "--yes"], env);
    expect(run.exitCode, run.stdout).toBe(1);
    expect(run.stdout).toMatch(/^razer +\| (failed|rolled-back)/m);
    expect(run.stdout).toMatch(/deployment \S+ failed/);
    expect(await generation("razer")).toBe(before);
  });

  it("report shows the latest deployment as markdown, and as JSON that validates against the report schema", async () => {
    const markdown = await cli(["report"], env);
    expect(markdown.exitCode, markdown.stderr).not.toBe(2);
    expect(markdown.stdout).toMatch(/^# Deployment report: /);
    expect(markdown.stdout).toContain("## Pre-deployment checks");
    const json = await cli(["report", "latest", "--json"], env);
    const report = reportSchema.parse(JSON.parse(json.stdout));
    expect(report.hosts.length).toBeGreaterThan(0);
    const missing = await cli(["report", "20990101-000000-abcdef"], env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("no deployment 20990101-000000-abcdef");
  });

  it("validate, scan and audit check the flake and say so in their exit status", async () => {
    const validate = await cli(["validate"], env);
    expect(validate.exitCode, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/files parse/);
    const scan = await cli(["scan", "--json"], env);
    expect([0, 3]).toContain(scan.exitCode);
    expect(JSON.parse(scan.stdout)).toHaveProperty("filesScanned");
    const audit = await cli(["audit", "p620"], env);
    expect([0, 3], audit.stderr).toContain(audit.exitCode);
    expect(audit.stdout).toMatch(/^p620 +\| firewall /m);
    const typo = await cli(["scan", "--fixx"], env);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain("--fixx");
  });

  it("a dry run prints each host once; a generation no host has is bad input (exit 2)", async () => {
    fleet.editHost("p510", (text) => text.replace('packages = [ "', 'packages = [ "nginx" "'));
    await fleet.commit("nginx on p510");
    const dry = await cli(["deploy", "p510", "--dry-run"], env);
    expect(dry.exitCode, `${dry.stdout}\n${dry.stderr}`).toBe(0);
    expect(dry.stdout.match(/^p510 +\| dry-run/gm) ?? [], dry.stdout).toHaveLength(1);
    const missing = await cli(["rollback", "p620", "--generation", "99", "--yes"], env);
    expect(missing.exitCode, missing.stdout).toBe(2);
    expect(missing.stdout).toMatch(/p620 has no generation 99; its generations: 1, 2, 3/);
  });

  it("rollback --yes --json returns p620 to the previous generation", async () => {
    const run = await cli(["rollback", "p620", "--yes", "--json"], env);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = rollbackResultSchema.parse(JSON.parse(run.stdout));
    expect(result.hosts.map((h) => [h.host, h.outcome, h.generationBefore])).toEqual([
      ["p620", "switched", 3],
    ]);
    expect(await generation("p620")).toBe(result.hosts[0]?.generationAfter);
  });

  it("Ctrl-C during activation exits 130, and the host reverts by itself without a confirmation", async () => {
    const initial = (await fleet.onHost("samsung", "readlink /run/current-system")).stdout.trim();
    fleet.editHost("samsung", (text) =>
      text
        .replace('packages = [ "', 'packages = [ "nginx" "')
        .replace("activation = { fail = false;", "activation = { delaySeconds = 3; fail = false;"),
    );
    await fleet.commit("slow samsung");
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const run = execa(process.execPath, [CLI, "deploy", "samsung", "--yes", "--confirm-timeout", "2"], {
      env: { ...process.env, ...env },
      stdin: "pipe",
      reject: false,
      timeout: 30_000,
      detached: true,
    });
    await new Promise<void>((resolve) => {
      run.stdout?.on("data", (chunk: Buffer) => {
        if (/^samsung +\| activating/m.test(chunk.toString())) resolve();
      });
    });
    process.kill(-(run.pid as number), "SIGINT");
    const done = await run;
    expect(done.exitCode, `${done.stdout}\n${done.stderr}`).toBe(130);
    expect(done.stderr).toContain("interrupted");
    // The truth: the host may run the new system until its window closes; no ssh child was killed
    // under the deployer by the signal, so nothing reads as a failed activation.
    const said = `${done.stdout}\n${done.stderr}`;
    expect(said).toMatch(/samsung reverts by itself within 2 s of activation unless confirmed/);
    expect(said).toContain("nix-deploy status");
    expect(said).not.toContain("on their previous generation");
    expect(said).not.toMatch(/exited with 255|ControlSocket/);
    // The supervisor on the host got no confirmation, so it returns to the previous system.
    let current = "";
    for (let i = 0; i < 60 && current !== initial; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      current = (await fleet.onHost("samsung", "readlink /run/current-system")).stdout.trim();
    }
    expect(current).toBe(initial);
  });
});
