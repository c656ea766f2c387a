/** How results look in a terminal: colmena's `host | text` column and a few units. */

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
export const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
export const generations = (before?: number, after?: number): string =>
  before === undefined && after === undefined ? "" : ` ${before ?? "?"} → ${after ?? "?"}`;
/** `p620 | deployed 3 → 4`: the host column of colmena's output. */
export const hostLine = (host: string, text: string, width = 8): string => `${host.padEnd(width)} | ${text}`;
export const width = (hosts: Array<{ host: string }>): number =>
  Math.max(8, ...hosts.map((h) => h.host.length));
/** A failed host's error and the journal lines of the units that failed, under its name. */
export const failureLines = (
  h: { host: string; error?: string; logs?: Record<string, string[]> },
  w: number,
): string[] => [
  // "error:" once, on the first line; Nix's own lines below it keep their own words.
  ...(h.error
    ? h.error.split("\n").map((l, i) => hostLine(h.host, i === 0 ? `  error: ${l}` : `    ${l}`, w))
    : []),
  ...Object.entries(h.logs ?? {}).flatMap(([unit, lines]) =>
    lines.map((l) => hostLine(h.host, `  ${unit}: ${l}`, w)),
  ),
];
export const checkMark = { pass: "ok  ", warn: "warn", fail: "FAIL" } as const;

/** A pass/warn/fail check as one line under its owner. */
export const checkLine = (
  who: string,
  c: { status: keyof typeof checkMark; check: string; detail: string; remedy?: string },
  w: number,
): string =>
  hostLine(who, `${checkMark[c.status]} ${c.check}: ${c.detail}${c.remedy ? ` — ${c.remedy}` : ""}`, w);

/** `file:line:column message`, the form editors and terminals make links of. */
export const findingLine = (f: { file: string; line: number; column: number }, text: string): string =>
  `${f.file}:${f.line}:${f.column}: ${text}`;

/** `p620 | key db → /run/keys/db (0600 root:root, 12 bytes)`: what was uploaded, never the content. */
export const keyLines = (
  h: {
    host: string;
    keys?: Array<{ name: string; destination: string; mode: string; owner: string; size?: number }>;
  },
  w: number,
): string[] =>
  (h.keys ?? []).map((k) =>
    hostLine(
      h.host,
      `  key ${k.name} → ${k.destination} (${k.mode} ${k.owner}${k.size === undefined ? "" : `, ${k.size} bytes`})`,
      w,
    ),
  );
