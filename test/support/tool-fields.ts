/**
 * Which test proves each input field of each tool: that the field reaches the engine and changes
 * what the user sees. Keys are field paths (`commit.pullRequest.base` for nested objects); a value
 * is "FILE > TEST TITLE" (or several), or "exempt: WHY". test/unit/tool-fields-guard.test.ts fails
 * when a tool has a field this list does not name, when the list names a field that is gone, or
 * when a named test no longer exists: a new field needs a test before the build passes.
 */

const FAST = "test/unit/tool-fields.test.ts";
const FLEET = "test/e2e/tool-fields-fleet.test.ts";
const DEPLOY = "test/e2e/deploy.test.ts";
const ANALYSIS = "test/e2e/analysis-stdio.test.ts";
const BUILD = "test/e2e/build-preflight.test.ts";
const FAULTS = "test/e2e/deploy-faults.test.ts";
const KEYS = "test/e2e/keys.test.ts";
const ONBOARD = "test/e2e/onboard.test.ts";
const onboard = (title: string) => `${ONBOARD} > ${title}`;
const FACTS_ALL = onboard(
  "host_facts reads every host in parallel, a host that does not answer as a failed check, and saves a facter report",
);
const INSTALL_PLAN = onboard(
  "install_host plans by default, refuses a disk that is not there, and without the typed disk touches nothing",
);
const INSTALL_RUN = onboard(
  "install_host with the typed disk runs nixos-anywhere, and the first deploy verifies the host key it recorded",
);
const INSTALL_CLI = onboard(
  "the CLI: facts, a home-manager rollback, and install-host asking for the disk on the terminal",
);

const ADD_HOST_TEST = "test/e2e/add-host.test.ts";
const ACCESS = "test/e2e/deploy-access.test.ts";
const WAVES = "test/e2e/waves.test.ts";
const WAVES_CANARY = `${WAVES} > a canary that fails leaves every other host untouched`;
const WAVES_BATCHES = `${WAVES} > batches stop at the failed batch, and onFailure rollback returns the earlier batches`;
const WAVES_CLI = `${WAVES} > the CLI takes the same rollout, and stops without touching the rest`;

const fast = (title: string) => `${FAST} > ${title}`;
const LIMITS =
  "test/e2e/evaluation.test.ts > deploy.limits: evaluator processes, chunks, copies and activations at once are the call's";
const ADD_HOST = `${ADD_HOST_TEST} > add_host.name, system, boot, gpu, disk, user, services, target, port, tags, dryRun: each GPU vendor, with and without home-manager and services, shown, written, checked, evaluated, then deployed`;
const BACKUP = `${ADD_HOST_TEST} > backup.path, reason, keep, list and restore.backup: files back byte for byte; a damaged backup is named, nothing lost`;
const fleet = (title: string) => `${FLEET} > ${title}`;

/** `flake` is every tool's: only the served flake is accepted, tested for every tool at once. */
const FLAKE =
  "test/e2e/security-stdio.test.ts > refuses a tool call that names another flake, and runs nothing from its inventory";
/** commit_changes' `remote` (also inside update's and smart_update's `commit`): configured remotes only. */
const REMOTE =
  "test/unit/commit.test.ts > pushes only to a configured remote, never to a path whose hooks would run";

const UPDATE_DEPLOY = fast(
  "update.hosts, inputs, mode, goal, confirmTimeoutSec: the update and its deployment are the ones asked for",
);
const RESTORE = fast(
  "restore_lock.backup, redeploy, hosts, mode, goal, confirmTimeoutSec: the chosen backup, deployed as asked",
);
const SMART_DEPLOY = fast(
  "smart_update.hosts, inputs, since, mode, goal, confirmTimeoutSec: the issue check and the deployment are the ones asked for",
);
const COMMITS = fleet(
  "update.commit, smart_update.commit, commit_changes: the commit, branch, push and pull request asked for",
);
const commitFields = {
  commit: COMMITS,
  "commit.issue": COMMITS,
  "commit.type": COMMITS,
  "commit.scope": COMMITS,
  "commit.subject": COMMITS,
  "commit.branch": COMMITS,
  "commit.push": COMMITS,
  "commit.remote": REMOTE,
  "commit.pullRequest": COMMITS,
  "commit.pullRequest.base": COMMITS,
  "commit.pullRequest.repository": COMMITS,
};
const SYNTAX_SCOPE = fast(
  "validate_syntax.changed, since: only the files changed in the working tree, or since a ref",
);
const SCAN = fast(
  "scan_antipatterns.changed, since, limit, rules: the files, the number and the rules asked for",
);
const AUDIT_SOURCE = fast(
  "security_audit.changed, since, limit, evaluate: the source layer of the files asked for",
);
const AUDIT_HOSTS = `${ANALYSIS} > audits the source and the evaluated hosts, flagging only what changed since the base`;

export const FIELD_TESTS: Record<string, Record<string, string | string[]>> = {
  plan: {
    request: fast("plan.request: the request decides hosts, mode and action"),
    flake: FLAKE,
  },
  fleet_list: {
    probe: fast("fleet_list.probe: false lists without contacting the hosts"),
    flake: FLAKE,
  },
  host_status: {
    host: fast("host_status.host: the named host, one host only"),
    flake: FLAKE,
  },
  host_facts: {
    hosts: FACTS_ALL,
    local: onboard("host_facts of the local machine runs without ssh"),
    name: onboard("host_facts of the local machine runs without ssh"),
    saveFacter: FACTS_ALL,
    flake: FLAKE,
  },
  install_host: {
    host: [INSTALL_PLAN, INSTALL_RUN],
    disk: [INSTALL_PLAN, INSTALL_RUN],
    dryRun: [INSTALL_PLAN, INSTALL_RUN],
    target: INSTALL_PLAN,
    port: INSTALL_PLAN,
    flake: FLAKE,
  },
  preflight: {
    hosts: fast("preflight.hosts: only the selected hosts are checked"),
    minFreeGiB: fast("preflight.minFreeGiB: the free space asked for decides the disk check"),
    flake: FLAKE,
  },
  validate_syntax: {
    changed: SYNTAX_SCOPE,
    since: SYNTAX_SCOPE,
    limit: fast("validate_syntax.limit: lists that many errors, and counts them all"),
    flake: FLAKE,
  },
  scan_antipatterns: {
    changed: SCAN,
    since: SCAN,
    rules: SCAN,
    fix: `${ANALYSIS} > scans for anti-patterns, honours suppressions, and applies fixes only when asked, with a backup`,
    limit: SCAN,
    flake: FLAKE,
  },
  security_audit: {
    changed: AUDIT_SOURCE,
    since: AUDIT_SOURCE,
    hosts: [AUDIT_HOSTS, AUDIT_SOURCE],
    base: [AUDIT_HOSTS, AUDIT_SOURCE],
    evaluate: [AUDIT_HOSTS, AUDIT_SOURCE],
    limit: AUDIT_SOURCE,
    flake: FLAKE,
  },
  test_build: {
    hosts: fast("test_build.hosts: only the selected hosts are built"),
    buildHost: [
      fast("test_build.buildHost: the build goes to that host, which must be one host"),
      `${BUILD} > builds on a build host and copies the result back`,
    ],
    flake: FLAKE,
  },
  deploy: {
    strategy: WAVES_CANARY,
    canary: WAVES_CANARY,
    batchSize: [WAVES_BATCHES, WAVES_CLI],
    onFailure: WAVES_BATCHES,
    limits: LIMITS,
    "limits.build": LIMITS,
    "limits.copy": LIMITS,
    "limits.activate": LIMITS,
    "limits.evalChunk": LIMITS,
    hosts: fast("deploy.hosts: only the selected hosts are deployed"),
    mode: fast("deploy.mode: the mode decides the checks before any host"),
    goal: [
      fast("deploy.goal: the goal is the deployment's, and dry-activate is a dry run"),
      fleet(
        "deploy.goal: test activates without a new generation, boot makes the generation without activating",
      ),
    ],
    dryRun: [
      fast("deploy.dryRun: the deployment is a dry run"),
      `${DEPLOY} > reports the units a change restarts`,
    ],
    confirmTimeoutSec: [
      fast("deploy.confirmTimeoutSec: the confirmation window is the deployment's"),
      `${FAULTS} > holds the new system for the whole window when nobody can confirm, then reverts by itself`,
    ],
    resume: fast("deploy.resume: runs the named deployment again with its own settings, and nothing else"),
    planId: fast("deploy.planId: the plan's hosts and mode run, and arguments that differ are refused"),
    installBootloader: [
      `${FAULTS} > refuses installBootloader where no boot loader would be installed, instead of ignoring it`,
      `${FAULTS} > resumes a deployment whose deployer was killed, without repeating finished hosts, as it was asked`,
    ],
    substituteOnDestination: [
      fast("deploy.substituteOnDestination: the deployment's record keeps it"),
      fleet("deploy.substituteOnDestination reaches nix copy, and a resumed deployment keeps it"),
    ],
    buildHost: `${ACCESS} > deploy.buildHost: deploys with a build host: built there, copied straight from there to the host, never built here`,
    cache: [
      "test/e2e/cache.test.ts > deploy.cache: changed hosts deploy through the cache, which holds each system once; none skips it",
      "test/e2e/cache.test.ts > refuses a cache the tool input names but the inventory does not declare, listing the declared ones",
    ],
    signingKey: `${ACCESS} > deploy.signingKey: an untrusted login user's copy is caught by preflight with the remedy; signed with a key the host trusts, it deploys`,
    flake: FLAKE,
  },
  rollback: {
    installBootloader: `${FAULTS} > rollback.installBootloader: a rollback asked to install the boot loader activates with it`,
    hosts: fast("rollback.hosts: only the selected hosts are rolled back"),
    generation: `${DEPLOY} > rolls a host back to its previous generation, and to a chosen one`,
    homeManagerUser: [
      onboard("host_status lists a user's home-manager generations, and rollback returns one, as the user"),
      INSTALL_CLI,
    ],
    confirmTimeoutSec: fleet(
      "rollback.confirmTimeoutSec: a rollback nobody can confirm reverts after that many seconds",
    ),
    flake: FLAKE,
  },
  upload_keys: {
    hosts: `${KEYS} > upload_keys.hosts, keys: rotates only the named keys of the selected hosts, and refuses unknown ones`,
    keys: [
      `${KEYS} > upload_keys.hosts, keys: rotates only the named keys of the selected hosts, and refuses unknown ones`,
      `${KEYS} > the CLI's upload-keys shows what arrived, never the content`,
    ],
    flake: FLAKE,
  },
  check_nixpkgs_issues: {
    packages: fast("check_nixpkgs_issues.packages: the issues are those of the named packages"),
    since: fast("check_nixpkgs_issues.since: issues updated before it are not searched"),
    newLockDate: fast("check_nixpkgs_issues.newLockDate: issues closed before it count as fixed"),
    refresh: fast("check_nixpkgs_issues.refresh: asks GitHub again instead of the cache"),
    flake: FLAKE,
  },
  preview_updates: {
    hosts: fast("preview_updates.hosts: only the selected hosts are previewed"),
    inputs: fast(
      "preview_updates.inputs: only the named inputs move, and a name that is no input is an error",
    ),
    evalOnly: fast("preview_updates.evalOnly: compares derivations without building"),
    flake: FLAKE,
  },
  update: {
    hosts: UPDATE_DEPLOY,
    mode: UPDATE_DEPLOY,
    goal: UPDATE_DEPLOY,
    confirmTimeoutSec: UPDATE_DEPLOY,
    inputs: UPDATE_DEPLOY,
    ...commitFields,
    flake: FLAKE,
  },
  restore_lock: {
    backup: RESTORE,
    redeploy: RESTORE,
    hosts: RESTORE,
    mode: RESTORE,
    goal: RESTORE,
    confirmTimeoutSec: RESTORE,
    flake: FLAKE,
  },
  smart_update: {
    hosts: SMART_DEPLOY,
    mode: SMART_DEPLOY,
    goal: SMART_DEPLOY,
    confirmTimeoutSec: SMART_DEPLOY,
    inputs: SMART_DEPLOY,
    since: SMART_DEPLOY,
    refresh: fast("smart_update.refresh: asks GitHub again instead of the cache"),
    ...commitFields,
    confirm: "exempt: being reworked with smart_update's confirmation, a change with its own tests",
    flake: FLAKE,
  },
  commit_changes: {
    issue: COMMITS,
    type: COMMITS,
    scope: COMMITS,
    subject: COMMITS,
    branch: COMMITS,
    push: COMMITS,
    remote: REMOTE,
    pullRequest: COMMITS,
    "pullRequest.base": COMMITS,
    "pullRequest.repository": COMMITS,
    deployment: COMMITS,
    flake: FLAKE,
  },
  add_host: {
    name: ADD_HOST,
    system: ADD_HOST,
    boot: ADD_HOST,
    gpu: ADD_HOST,
    disk: ADD_HOST,
    user: ADD_HOST,
    services: ADD_HOST,
    target: ADD_HOST,
    port: ADD_HOST,
    tags: ADD_HOST,
    dryRun: ADD_HOST,
    facterReport: `${ADD_HOST_TEST} > add_host.facterReport: a host that fails to evaluate is rolled back byte for byte, with the error shown`,
    flake: FLAKE,
  },
  backup: { path: BACKUP, reason: BACKUP, keep: BACKUP, list: BACKUP, flake: FLAKE },
  restore: { backup: BACKUP, flake: FLAKE },
};
