import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Octokit } from "octokit";
import type { Logger } from "../log.js";
import { stateDir } from "../log.js";
import { AnswerCache } from "./cache.js";
import type { IssueRecord } from "./matching.js";

export const DEFAULT_GITHUB_API = "https://api.github.com";

/** How the check talks to GitHub; everything a test changes is here. */
export interface GithubSettings {
  baseUrl: string;
  /** Never logged and never returned; only `tokenSource` says whether there is one. */
  token?: string;
  tokenSource: "GITHUB_TOKEN" | "gh config" | "none";
  /** Longest wait for one request before GitHub counts as unreachable. */
  timeoutMs: number;
  /** Longest total wait for rate limits and retries in one check; beyond it the check degrades. */
  maxWaitMs: number;
  /** Retries of an answer of 5xx or a refused connection, with doubling pauses from `retryPauseMs`. */
  retries: number;
  retryPauseMs: number;
  /** Pages of 100 fetched per query at most: the search API serves 1000 results, a check needs fewer. */
  maxPages: number;
  cacheDir: string;
  cacheTtlMs: number;
}

function seconds(value: string | undefined, fallback: number): number {
  const parsed = value === undefined || value === "" ? Number.NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

/** The token of `gh auth login` from hosts.yml, when gh keeps it there (it may use the keyring). */
export function ghConfigToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir =
    env.GH_CONFIG_DIR ??
    join(env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : join(homedir(), ".config"), "gh");
  let text: string;
  try {
    text = readFileSync(join(dir, "hosts.yml"), "utf8");
  } catch {
    return undefined;
  }
  // A YAML parser for one key is not worth a dependency: find the github.com block and the first
  // oauth_token inside it (gh's own layout, old and multi-account alike).
  let inBlock = false;
  for (const line of text.split("\n")) {
    if (/^\S/.test(line)) inBlock = /^"?github\.com"?:\s*$/.test(line.trimEnd());
    else if (inBlock) {
      const match = /^\s+oauth_token:\s*["']?([^"'\s]+)["']?\s*$/.exec(line);
      if (match) return match[1];
    }
  }
  return undefined;
}

export function githubSettings(env: NodeJS.ProcessEnv = process.env): GithubSettings {
  const baseUrl = (env.NIX_DEPLOY_GITHUB_API || DEFAULT_GITHUB_API).replace(/\/+$/, "");
  let token: string | undefined = env.GITHUB_TOKEN || undefined;
  let tokenSource: GithubSettings["tokenSource"] = token ? "GITHUB_TOKEN" : "none";
  // gh's token belongs to github.com: it is never sent to another API address (a test's fake, a proxy).
  if (!token && baseUrl === DEFAULT_GITHUB_API) {
    token = ghConfigToken(env);
    if (token) tokenSource = "gh config";
  }
  return {
    baseUrl,
    token,
    tokenSource,
    timeoutMs: seconds(env.NIX_DEPLOY_GITHUB_TIMEOUT, 10) * 1000,
    maxWaitMs: 15_000,
    retries: 2,
    retryPauseMs: 500,
    maxPages: 3,
    cacheDir: join(stateDir(env), "cache", "github"),
    cacheTtlMs: seconds(env.NIX_DEPLOY_GITHUB_CACHE_TTL, 3600) * 1000,
  };
}

/** One search's issues, or why GitHub did not give them. */
export type SearchAnswer =
  | { ok: true; totalCount: number; complete: boolean; items: IssueRecord[]; fromCache: boolean }
  | { ok: false; failure: "rate limited" | "unavailable"; reason: string };

type CachedSearch = { totalCount: number; complete: boolean; items: IssueRecord[] };

interface RawIssue {
  number: number;
  title: string;
  html_url: string;
  state: string;
  labels?: Array<string | { name?: string }>;
  created_at: string;
  updated_at?: string;
  closed_at?: string | null;
  body?: string | null;
  pull_request?: unknown;
}

/** Bodies are read for "fixed in" notes; their start says it, and the cache stays small. */
const BODY_LIMIT = 8000;

function toIssue(raw: RawIssue): IssueRecord {
  return {
    number: raw.number,
    title: raw.title,
    url: raw.html_url,
    state: raw.state === "closed" ? "closed" : "open",
    labels: (raw.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter(Boolean),
    createdAt: raw.created_at,
    updatedAt: raw.updated_at,
    closedAt: raw.closed_at ?? null,
    body: (raw.body ?? "").slice(0, BODY_LIMIT),
  };
}

interface HttpFailure {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined> };
  cause?: { code?: string; message?: string; cause?: { code?: string } };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * GitHub's issue search for one check: octokit with its own retry and throttling turned off, because
 * their waits are unbounded by default and a check must answer, degraded if need be, within
 * `maxWaitMs`. Answers are cached; a rate limit seen once stops the requests that would only hit it again.
 */
export class IssueSearch {
  private client?: Octokit;
  private waitedMs = 0;
  private blockedUntil = 0;
  /** Why GitHub could not be reached: once it failed past the retries, the rest of the check asks no more. */
  private down?: string;
  private readonly cache: AnswerCache<CachedSearch>;
  /** Requests sent in this check (cached answers cost none). */
  requests = 0;

  constructor(
    readonly settings: GithubSettings,
    private readonly log: Logger,
  ) {
    this.cache = new AnswerCache(settings.cacheDir, settings.cacheTtlMs);
  }

  private async octokit(): Promise<Octokit> {
    if (!this.client) {
      // Loaded on the first request only: a check answered from the cache never pays for octokit.
      const { Octokit } = await import("octokit");
      const log = this.log;
      this.client = new Octokit({
        baseUrl: this.settings.baseUrl,
        auth: this.settings.token,
        userAgent: "nix-deploy",
        throttle: { enabled: false },
        retry: { enabled: false },
        // octokit's default logger uses console; on the stdio server only the protocol may reach stdout.
        log: {
          debug: (message: string) => log.debug({ github: message }),
          info: (message: string) => log.debug({ github: message }),
          warn: (message: string) => log.warn({ github: message }),
          error: (message: string) => log.error({ github: message }),
        },
      });
    }
    return this.client;
  }

  /** All pages (up to `maxPages`) of one query, from the cache when fresh and `refresh` is not set. */
  async search(
    query: string,
    options: { refresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<SearchAnswer> {
    const key = `${this.settings.baseUrl} ${this.settings.token ? "auth" : "anon"} ${this.settings.maxPages} ${query}`;
    if (!options.refresh) {
      const hit = this.cache.get(key);
      if (hit) return { ok: true, ...hit.value, fromCache: true };
    }
    if (this.down) return { ok: false, failure: "unavailable", reason: this.down };
    const items: IssueRecord[] = [];
    let totalCount = 0;
    let complete = true;
    for (let page = 1; page <= this.settings.maxPages; page++) {
      const answer = await this.page(query, page, options.signal);
      if (!answer.ok) {
        // A timeout costs `timeoutMs` per query: one is enough to know, the others would only add waits.
        if (answer.failure === "unavailable") this.down = answer.reason;
        return answer;
      }
      totalCount = answer.totalCount;
      complete &&= answer.complete;
      items.push(...answer.items);
      if (answer.items.length < 100 || items.length >= totalCount) break;
    }
    if (items.length < totalCount) complete = false;
    const value = { totalCount, complete, items };
    this.cache.set(key, value);
    return { ok: true, ...value, fromCache: false };
  }

  private rateLimited(reason: string): SearchAnswer {
    return { ok: false, failure: "rate limited", reason };
  }

  private async page(
    query: string,
    page: number,
    signal?: AbortSignal,
  ): Promise<
    (CachedSearch & { ok: true }) | { ok: false; failure: "rate limited" | "unavailable"; reason: string }
  > {
    for (let attempt = 0; ; attempt++) {
      const blockedFor = this.blockedUntil - Date.now();
      if (blockedFor > 0) {
        const until = new Date(this.blockedUntil).toISOString();
        if (this.waitedMs + blockedFor > this.settings.maxWaitMs) {
          return this.rateLimited(`rate limited by GitHub until ${until}`);
        }
        this.log.info({ waitMs: blockedFor, until }, "GitHub rate limit: waiting");
        await sleep(blockedFor, signal);
        this.waitedMs += blockedFor;
      }
      // The client first: loading octokit is not GitHub's time and must not count against its timeout.
      const octokit = await this.octokit();
      const timeout = AbortSignal.timeout(this.settings.timeoutMs);
      const requestSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
      this.requests++;
      try {
        const response = await octokit.request("GET /search/issues", {
          q: query,
          per_page: 100,
          page,
          sort: "updated",
          order: "desc",
          request: { signal: requestSignal },
        });
        this.noteRateLimit(response.headers as Record<string, string | undefined>);
        const data = response.data as { total_count: number; incomplete_results: boolean; items: RawIssue[] };
        return {
          ok: true,
          totalCount: data.total_count,
          complete: !data.incomplete_results,
          items: data.items.filter((item) => !item.pull_request).map(toIssue),
        };
      } catch (caught) {
        if (signal?.aborted) throw caught;
        const error = caught as HttpFailure;
        if (timeout.aborted) {
          return {
            ok: false,
            failure: "unavailable",
            reason: `GitHub did not answer within ${this.settings.timeoutMs / 1000} s`,
          };
        }
        const headers = error.response?.headers ?? {};
        if ((error.status === 403 || error.status === 429) && this.isRateLimit(headers)) {
          this.noteRateLimit(headers, true);
          continue;
        }
        const reason = this.describeFailure(error);
        const retriable = error.status === undefined || error.status >= 500;
        if (retriable && attempt < this.settings.retries) {
          const pause = this.settings.retryPauseMs * 2 ** attempt;
          if (this.waitedMs + pause <= this.settings.maxWaitMs) {
            this.log.info({ reason, pauseMs: pause }, "GitHub failed: retrying");
            await sleep(pause, signal);
            this.waitedMs += pause;
            continue;
          }
        }
        return { ok: false, failure: "unavailable", reason };
      }
    }
  }

  private isRateLimit(headers: Record<string, string | undefined>): boolean {
    return headers["x-ratelimit-remaining"] === "0" || headers["retry-after"] !== undefined;
  }

  /** Remembers until when GitHub will refuse: `retry-after` seconds, else the `x-ratelimit-reset` epoch. */
  private noteRateLimit(headers: Record<string, string | undefined>, refused = false): void {
    const retryAfter = Number(headers["retry-after"]);
    if (refused && Number.isFinite(retryAfter) && headers["retry-after"] !== undefined) {
      this.blockedUntil = Date.now() + retryAfter * 1000;
      return;
    }
    if (headers["x-ratelimit-remaining"] === "0") {
      const reset = Number(headers["x-ratelimit-reset"]);
      // Without a reset time GitHub's documented advice is to wait at least a minute.
      this.blockedUntil = Number.isFinite(reset) && reset > 0 ? reset * 1000 : Date.now() + 60_000;
    }
  }

  private describeFailure(error: HttpFailure): string {
    if (error.response) {
      if (error.status === 401) return "GitHub refused the token (401 Bad credentials); check GITHUB_TOKEN";
      return `GitHub answered ${error.status}: ${error.message ?? "no message"}`;
    }
    const code = error.cause?.code ?? error.cause?.cause?.code;
    return `GitHub could not be reached${code ? ` (${code})` : ""}: ${error.message ?? "no answer"}`;
  }
}
