import { z } from "zod";
import { DeploymentStore } from "../deploy/record.js";
import type { Engine } from "../engine.js";
import { UserError } from "../errors.js";
import { servedFlake } from "../trust.js";
import { githubSettings } from "./github.js";

/**
 * Issue-referenced commits after a successful deploy: the changed files are committed with a
 * conventional message that names the issue (`chore(flake): update nixpkgs (#123)`), pushed when
 * asked, and a pull request opened with octokit when asked. Only the named files are committed, so
 * whatever else the user has staged or changed stays as it was.
 */

const refSchema = z
  .string()
  .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}$/, "a git branch or remote name such as main or origin");

export const commitRequestSchema = z.object({
  issue: z.number().int().positive().optional().describe("the issue to reference: (#123)"),
  type: z
    .enum(["feat", "fix", "chore", "refactor", "docs", "perf", "ci", "build", "test"])
    .optional()
    .describe("conventional commit type (default: chore for updates)"),
  scope: z
    .string()
    .regex(/^[a-z0-9-]{1,30}$/, "a short lowercase scope such as flake or monitoring")
    .optional(),
  subject: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('what the change does, e.g. "add postgres monitoring"'),
  branch: refSchema.optional().describe("commit on this new branch, made from HEAD"),
  push: z.boolean().optional().describe("push the branch to the remote"),
  remote: refSchema.optional().describe("a configured git remote (default origin)"),
  pullRequest: z
    .object({
      base: refSchema.optional().describe("branch to merge into (default main)"),
      repository: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "owner/name")
        .optional()
        .describe("owner/name (default: from the remote's URL)"),
    })
    .optional()
    .describe("open a pull request after pushing (GITHUB_TOKEN)"),
});
export type CommitRequest = z.infer<typeof commitRequestSchema>;

export const commitResultSchema = z.object({
  commit: z.string().describe("the new commit's hash"),
  message: z.string(),
  branch: z.string(),
  pushed: z.boolean(),
  pullRequest: z.object({ number: z.number(), url: z.string() }).optional(),
});
export type CommitResult = z.infer<typeof commitResultSchema>;

/** What the operation knows about its own change; the request may override type, scope and subject. */
export interface CommitDefaults {
  files: string[];
  type: NonNullable<CommitRequest["type"]>;
  scope?: string;
  subject: string;
}

/** `type(scope): subject (#issue)`, one line. */
export function conventionalMessage(
  type: string,
  scope: string | undefined,
  subject: string,
  issue?: number,
): string {
  const oneLine = subject.replaceAll(/\s+/g, " ").trim();
  return `${type}${scope ? `(${scope})` : ""}: ${oneLine}${issue ? ` (#${issue})` : ""}`;
}

/** owner/name of a GitHub remote URL (https or ssh form); undefined for anything else. */
export function githubRepository(url: string): string | undefined {
  const match = /github\.com[:/]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url.trim());
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/**
 * The variables git needs to commit and push as the user: identity, home and config, ssh agent.
 * Editors and pagers are left out: the message is given, and simple-git refuses to run with them.
 */
function gitEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept =
    /^(PATH|HOME|USER|LANG|LC_[A-Z]+|TMPDIR|XDG_CONFIG_HOME|SSH_AUTH_SOCK|GIT_(AUTHOR|COMMITTER)_[A-Z]+)$/;
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => kept.test(entry[0]) && entry[1] !== undefined,
    ),
  );
}

/** simple-git on the flake's repository, with the user's identity; a directory outside git is refused. */
async function openRepository(engine: Engine, dir: string) {
  const { simpleGit } = await import("simple-git");
  const env = gitEnv(engine.env);
  // simple-git guards GIT_* variables; the identity ones are what git commit is meant to read.
  const git = simpleGit({
    baseDir: dir,
    allowEnvironment: Object.keys(env).filter((k) => k.startsWith("GIT_")),
  }).env(env);
  if (!(await git.checkIsRepo()))
    throw new UserError(`${dir} is not a git repository`, "commit by hand, or run git init in the flake");
  return git;
}

export async function commitChanges(
  engine: Engine,
  dir: string,
  request: CommitRequest,
  defaults: CommitDefaults,
): Promise<CommitResult> {
  // A pull request needs the branch on the remote: pushing anyway would overrule push: false.
  if (request.pullRequest && request.push === false)
    throw new UserError(
      "a pull request needs the branch pushed, and push is false",
      "leave push out (or set it true) to open the pull request, or leave pullRequest out to keep the commit local",
    );
  const git = await openRepository(engine, dir);
  const remote = request.remote ?? "origin";
  if (request.push || request.pullRequest) {
    // Only a remote the repository names: a path or URL would be pushed to as given, and a path's
    // repository runs its own hooks on our push.
    const remotes = await git.getRemotes();
    if (!remotes.some((r) => r.name === remote))
      throw new UserError(
        `"${remote}" is not a remote of ${dir}`,
        remotes.length
          ? `use one of its remotes: ${remotes.map((r) => r.name).join(", ")}`
          : `add one first: git -C ${dir} remote add origin URL`,
      );
  }
  if (request.branch) await git.checkoutLocalBranch(request.branch);
  const branch = (await git.revparse(["--abbrev-ref", "HEAD"])).trim();
  const message = conventionalMessage(
    request.type ?? defaults.type,
    request.scope ?? defaults.scope,
    request.subject ?? defaults.subject,
    request.issue,
  );
  await git.add(defaults.files);
  const committed = await git.commit(message, defaults.files);
  if (!committed.commit)
    throw new UserError(
      `nothing to commit in ${defaults.files.join(", ")}`,
      "the files are as committed already",
    );
  const commit = (await git.revparse(["HEAD"])).trim();
  engine.log.info({ dir, commit, branch, message }, "changes committed");

  let pushed = false;
  if (request.push || request.pullRequest) {
    try {
      await git.push(remote, branch, ["--set-upstream"]);
    } catch (error) {
      throw new UserError(
        `committed ${commit.slice(0, 12)}, but pushing ${branch} to ${remote} failed: ${(error as Error).message.trim()}`,
        `check the remote and your credentials, then: git push ${remote} ${branch}`,
      );
    }
    pushed = true;
  }
  const result: CommitResult = { commit, message, branch, pushed };
  if (request.pullRequest) {
    const remoteUrl = (await git.remote(["get-url", remote])) || "";
    const repository = request.pullRequest.repository ?? githubRepository(remoteUrl);
    if (!repository)
      throw new UserError(
        `committed and pushed ${commit.slice(0, 12)}, but ${remote} is no GitHub repository`,
        "name the repository: pullRequest.repository (owner/name)",
      );
    result.pullRequest = await openPullRequest(engine, repository, {
      head: branch,
      base: request.pullRequest.base ?? "main",
      title: message,
      body: request.issue
        ? `Deployed with nix-deploy.\n\nRefs #${request.issue}`
        : "Deployed with nix-deploy.",
    });
  }
  return result;
}

async function openPullRequest(
  engine: Engine,
  repository: string,
  pr: { head: string; base: string; title: string; body: string },
): Promise<{ number: number; url: string }> {
  const settings = githubSettings(engine.env);
  if (!settings.token)
    throw new UserError(
      "opening a pull request needs a GitHub token",
      "set GITHUB_TOKEN (or log in with gh), or open it by hand: gh pr create --fill",
    );
  const { Octokit } = await import("octokit");
  const octokit = new Octokit({ baseUrl: settings.baseUrl, auth: settings.token, request: { retries: 0 } });
  const [owner = "", repo = ""] = repository.split("/");
  try {
    const { data } = await octokit.rest.pulls.create({ owner, repo, ...pr });
    engine.log.info({ repository, number: data.number }, "pull request opened");
    return { number: data.number, url: data.html_url };
  } catch (error) {
    const status = (error as { status?: number }).status;
    throw new UserError(
      `the commit is pushed, but GitHub did not open the pull request${status ? ` (HTTP ${status})` : ""}`,
      "check that the token may open pull requests in the repository, or: gh pr create --fill",
    );
  }
}

export const commitDeploymentOptionsSchema = commitRequestSchema.extend({
  subject: z
    .string()
    .min(1)
    .max(100)
    .describe('what the deployed change does, e.g. "add postgres monitoring"'),
  deployment: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, "a deployment id")
    .optional()
    .describe("the deployment whose configuration is committed: its id (default: this flake's latest)"),
});
export type CommitDeploymentOptions = z.infer<typeof commitDeploymentOptionsSchema> & { flake?: string };

export const commitDeploymentResultSchema = commitResultSchema.extend({
  deploymentId: z.string(),
  files: z.array(z.string()).describe("the files committed: every tracked file that differed from HEAD"),
});
export type CommitDeploymentResult = z.infer<typeof commitDeploymentResultSchema>;

/**
 * Commits what a successful deployment deployed: the tracked files that differ from HEAD (a flake
 * built from git sees only tracked files, so untracked ones were not part of it and stay out).
 */
export async function commitDeployment(
  engine: Engine,
  options: CommitDeploymentOptions,
): Promise<CommitDeploymentResult> {
  const flake = servedFlake(engine, options.flake);
  const store = new DeploymentStore(engine.env);
  const ofThisFlake = store.list().filter((r) => r.request.flake === flake);
  const record = options.deployment ? ofThisFlake.find((r) => r.id === options.deployment) : ofThisFlake[0];
  if (!record) {
    // Another flake's deployment says nothing about the files of this one.
    const elsewhere = options.deployment ? store.load(options.deployment) : undefined;
    const ids = ofThisFlake.slice(0, 5).map((r) => r.id);
    throw new UserError(
      elsewhere
        ? `deployment ${options.deployment} deployed ${elsewhere.request.flake}, not ${flake}`
        : options.deployment
          ? `no deployment ${options.deployment}`
          : `no deployment of ${flake} yet`,
      ids.length
        ? `deployments of ${flake}, newest first: ${ids.join(", ")}`
        : "deploy first; only a deployed configuration is committed",
    );
  }
  if (record.status !== "succeeded" || record.request.dryRun)
    throw new UserError(
      `deployment ${record.id} ${record.request.dryRun ? "was a dry run" : `did not succeed (${record.status})`}`,
      "commit after a deployment that succeeded, so the history holds what the hosts run",
    );
  const git = await openRepository(engine, flake);
  const status = await git.status();
  const files = status.files.filter((f) => f.index !== "?" && f.working_dir !== "?").map((f) => f.path);
  if (files.length === 0)
    throw new UserError(
      "no tracked file differs from HEAD",
      "the deployed configuration is committed already",
    );
  const { deployment: _deployment, flake: _flake, ...request } = options;
  const committed = await commitChanges(engine, flake, request, {
    files,
    type: "feat",
    subject: options.subject,
  });
  return { ...committed, deploymentId: record.id, files };
}
