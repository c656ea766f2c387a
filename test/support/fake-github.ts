/**
 * A stand-in for api.github.com's issue search on 127.0.0.1: it serves the recorded answers in
 * test/samples/github/, narrowed as GitHub would narrow them for the query asked, and can be told
 * to refuse (403 rate limit), fail (500) or never answer. The one boundary the tests fake; the
 * client talking to it is the real octokit.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";

export const SAMPLES = join(import.meta.dirname, "..", "samples", "github");

interface RecordedItem {
  number: number;
  title: string;
  labels: Array<{ name: string }>;
  updated_at: string;
}

interface RecordedAnswer {
  total_count: number;
  incomplete_results: boolean;
  items: RecordedItem[];
}

/**
 * What the fake does with the next requests: after `after` normal answers (default 0), `times`
 * faulty ones (default: all), then normal answers again.
 */
export type Fault = { after?: number; times?: number } & (
  | { kind: "rate-limit"; resetInSeconds: number }
  | { kind: "secondary-rate-limit"; retryAfterSeconds: number }
  | { kind: "error"; status: number }
  | { kind: "timeout" }
);

export interface RecordedRequest {
  path: string;
  q: string;
  authorization?: string;
}

/** A pull request opened against the fake: POST /repos/:owner/:repo/pulls. */
export interface RecordedPull {
  owner: string;
  repo: string;
  head: string;
  base: string;
  title: string;
  body?: string;
  authorization?: string;
}

export interface FakeGithub {
  url: string;
  requests: RecordedRequest[];
  pulls: RecordedPull[];
  fault?: Fault;
  /** Answer as GitHub does when a search timed out on its side: `incomplete_results: true`. */
  incompleteResults?: boolean;
  /** `x-ratelimit-remaining` on normal answers (default 29): 0 says the next search will be refused. */
  remaining?: number;
  /** Seconds from now until the limit resets, for `x-ratelimit-reset` on normal answers (default 60). */
  resetInSeconds?: number;
  stop(): Promise<void>;
}

function load(file: string): RecordedAnswer {
  return JSON.parse(readFileSync(join(SAMPLES, file), "utf8"));
}

/** The recorded answer for a query: by label, or the title search narrowed to the quoted names. */
function answerFor(q: string): RecordedAnswer {
  const label = /label:"([^"]+)"/.exec(q)?.[1];
  const since = /updated:>=(\d{4}-\d{2}-\d{2})/.exec(q)?.[1] ?? "1970-01-01";
  let answer: RecordedAnswer;
  if (label) {
    try {
      answer = load(`label-${label.replace(": ", "-").replaceAll(" ", "-")}.json`);
    } catch {
      answer = { total_count: 0, incomplete_results: false, items: [] };
    }
  } else {
    const names = [...q.matchAll(/"([^"]+)"/g)].map((m) => (m[1] as string).toLowerCase());
    const all = load("titles.json");
    // GitHub's title search matches words loosely ("go" finds "Go back"): the client must do better.
    const items = all.items.filter((i) => names.some((n) => i.title.toLowerCase().includes(n)));
    answer = { ...all, items };
  }
  const items = answer.items.filter((i) => i.updated_at.slice(0, 10) >= since);
  return { total_count: items.length, incomplete_results: false, items };
}

export async function startFakeGithub(): Promise<FakeGithub> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const pulls: RecordedPull[] = [];
  const fake: FakeGithub = {
    url: "",
    requests,
    pulls,
    fault: undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        // Requests left hanging by the timeout fault would keep the server open forever otherwise.
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const q = url.searchParams.get("q") ?? "";
    requests.push({ path: url.pathname, q, authorization: req.headers.authorization });
    const fault = fake.fault;
    if (fault?.after) fault.after--;
    else if (fault) {
      if (fault.times !== undefined && --fault.times <= 0) fake.fault = undefined;
      const json = { "content-type": "application/json; charset=utf-8" };
      switch (fault.kind) {
        case "timeout":
          return; // never answers
        case "rate-limit":
          res.writeHead(403, {
            ...json,
            "x-ratelimit-limit": "10",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "10",
            "x-ratelimit-resource": "search",
            "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + fault.resetInSeconds),
          });
          return res.end(
            JSON.stringify({
              message:
                "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)",
              documentation_url:
                "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            }),
          );
        case "secondary-rate-limit":
          res.writeHead(403, { ...json, "retry-after": String(fault.retryAfterSeconds) });
          return res.end(
            JSON.stringify({
              message:
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
              documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            }),
          );
        case "error":
          res.writeHead(fault.status, json);
          return res.end(JSON.stringify({ message: "Server Error" }));
      }
    }
    const pullsPath = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname);
    if (req.method === "POST" && pullsPath)
      return openPull(req, res, pullsPath[1] as string, pullsPath[2] as string);
    if (req.method !== "GET" || url.pathname !== "/search/issues") {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end(
        JSON.stringify({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }),
      );
    }
    res.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "x-ratelimit-limit": "30",
      "x-ratelimit-remaining": String(fake.remaining ?? 29),
      "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + (fake.resetInSeconds ?? 60)),
      "x-ratelimit-resource": "search",
    });
    const answer = answerFor(q);
    // Paged as GitHub pages: per_page (at most 100) items of page `page`, total_count over all pages.
    const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100);
    const page = Number(url.searchParams.get("page") ?? 1);
    const items = answer.items.slice((page - 1) * perPage, page * perPage);
    res.end(JSON.stringify({ ...answer, incomplete_results: fake.incompleteResults ?? false, items }));
  };

  /** Answers as GitHub does for a created pull request: 201 with its number and html_url. */
  const openPull = (req: IncomingMessage, res: ServerResponse, owner: string, repo: string) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on("end", () => {
      const input = JSON.parse(body || "{}") as {
        head?: string;
        base?: string;
        title?: string;
        body?: string;
      };
      if (!input.head || !input.base || !input.title) {
        res.writeHead(422, { "content-type": "application/json" });
        return res.end(JSON.stringify({ message: "Validation Failed" }));
      }
      pulls.push({
        owner,
        repo,
        head: input.head,
        base: input.base,
        title: input.title,
        body: input.body,
        authorization: req.headers.authorization,
      });
      const number = pulls.length;
      res.writeHead(201, { "content-type": "application/json; charset=utf-8" });
      res.end(
        JSON.stringify({
          number,
          html_url: `https://github.com/${owner}/${repo}/pull/${number}`,
          state: "open",
        }),
      );
    });
  };

  const server: Server = createServer(handle);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
