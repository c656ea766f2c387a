/**
 * Whether a nixpkgs issue is about a package that changes, which versions it names, and whether the
 * new lock already carries the fix. Pure functions over the issue's text, so they are tested alone.
 */

/** A package the update changes, as the closure diff names it (`systemd: 254.5 → 254.6`). */
export interface ChangingPackage {
  name: string;
  oldVersion?: string;
  newVersion?: string;
}

/** The fields of a GitHub issue the check reads; the cache keeps only these. */
export interface IssueRecord {
  number: number;
  title: string;
  url: string;
  state: "open" | "closed";
  labels: string[];
  createdAt: string;
  updatedAt?: string;
  closedAt?: string | null;
  body: string;
}

/**
 * Names that are ordinary words or too short to mean the package when they appear alone ("go back",
 * "time out", "which fails", "less memory"). They match only in a form that names a package: the
 * nixpkgs title convention `name: ...`, `pkgs.name`, or the name followed by a version.
 */
const WORDLIKE_NAMES = new Set([
  "bc",
  "dig",
  "file",
  "find",
  "git",
  "go",
  "hello",
  "less",
  "make",
  "man",
  "more",
  "nix",
  "patch",
  "screen",
  "sudo",
  "tree",
  "time",
  "which",
  "watch",
  "unzip",
  "zip",
]);

const SHORT_NAME_LENGTH = 3;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A name that only counts in a package-naming form (see WORDLIKE_NAMES). */
export function needsStrongMention(name: string): boolean {
  return name.length <= SHORT_NAME_LENGTH || WORDLIKE_NAMES.has(name.toLowerCase());
}

const VERSION = String.raw`v?(\d+(?:\.\d+)*(?:[a-z]\w*)?(?:\.x)?)`;

/**
 * The whole-name pattern. A name character before the match means another name (`x86_64-linux`,
 * `qlinux`), though a dot does not (`pkgs.linux`); after it, a letter, digit or `_` continues the name (`linuxPackages`), and so does `-`
 * followed by a letter (`linux-firmware` is another package), while `-` followed by a digit starts
 * the version (`linux-6.6.1` is linux).
 */
function namePattern(name: string, flags: string): RegExp {
  return new RegExp(String.raw`(?<![\w+-])${escapeRegExp(name)}(?![\w+]|-[a-z])`, flags);
}

/** The versions of `name` an issue's text names: `systemd 254.6`, `systemd-254.x`, `linux v6.6`. */
export function versionsNamed(name: string, text: string): string[] {
  const pattern = new RegExp(
    String.raw`(?<![\w+.-])${escapeRegExp(name)}(?:[\s:-]+|\s+version\s+)${VERSION}`,
    "gi",
  );
  return [...new Set([...text.matchAll(pattern)].map((m) => m[1] as string))];
}

/**
 * Whether an issue's title names the package as a whole name. Only the title: the body of a nixpkgs
 * issue carries the reporter's system ("x86_64-linux") and often lists many packages, while the title
 * is where an issue says what it is about.
 */
export function mentionsPackage(name: string, title: string): boolean {
  if (needsStrongMention(name)) {
    // Case matters here: "Go" starting a sentence is a word, "go:" at the start of a title is the package.
    const strong = [
      new RegExp(String.raw`^${escapeRegExp(name)}:`),
      new RegExp(String.raw`(?<![\w.-])pkgs\.${escapeRegExp(name)}(?![\w-])`),
      new RegExp(String.raw`(?<![\w+.-])${escapeRegExp(name)}[\s-]v?\d+\.\d+`),
    ];
    return strong.some((pattern) => pattern.test(title));
  }
  return namePattern(name, "i").test(title);
}

/**
 * Compares two version strings the way nix's `builtins.compareVersions` does closely enough for
 * releases: numeric components numerically, others as strings; a missing component is smaller.
 * `254.x` compares as the 254 series (its `x` equals any component).
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => v.replace(/^v/, "").split(/[.-]/).filter(Boolean);
  const left = split(a);
  const right = split(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const l = left[i];
    const r = right[i];
    if (l === "x" || r === "x") return 0;
    if (l === undefined) return -1;
    if (r === undefined) return 1;
    const ln = /^\d+$/.test(l) ? Number(l) : Number.NaN;
    const rn = /^\d+$/.test(r) ? Number(r) : Number.NaN;
    if (!Number.isNaN(ln) && !Number.isNaN(rn)) {
      if (ln !== rn) return ln < rn ? -1 : 1;
    } else if (l !== r) {
      return l < r ? -1 : 1;
    }
  }
  return 0;
}

/** `254` and `254.x` name the whole series, so they cover `254.6`. */
export function versionCovers(named: string, actual: string): boolean {
  const series = named.replace(/\.x$/, "");
  return actual === series || actual.startsWith(`${series}.`) || compareVersions(named, actual) === 0;
}

/** How an issue's named versions relate to the update. */
export type VersionRelation = "new" | "old" | "other" | "unnamed";

export function relateVersions(pkg: ChangingPackage, named: string[]): VersionRelation {
  if (named.length === 0) return "unnamed";
  if (pkg.newVersion && named.some((v) => versionCovers(v, pkg.newVersion as string))) return "new";
  if (pkg.oldVersion && named.some((v) => versionCovers(v, pkg.oldVersion as string))) return "old";
  return "other";
}

const FIXED_IN = new RegExp(String.raw`\bfixed\s+(?:in|by|with|since)\s+(?:version\s+)?${VERSION}`, "gi");

/**
 * Why the new lock already has the fix, or undefined when nothing says so: closed before the new
 * lock's date, or "fixed in X" with X at most the new version.
 */
export function fixedInNewLock(
  issue: IssueRecord,
  pkg: ChangingPackage,
  newLockDate?: Date,
): string | undefined {
  if (issue.state === "closed" && issue.closedAt && newLockDate) {
    const closed = new Date(issue.closedAt);
    if (closed.getTime() <= newLockDate.getTime()) {
      return `closed ${issue.closedAt.slice(0, 10)}, before the new lock (${newLockDate.toISOString().slice(0, 10)})`;
    }
  }
  if (pkg.newVersion) {
    for (const match of `${issue.title}\n${issue.body}`.matchAll(FIXED_IN)) {
      const version = match[1] as string;
      if (compareVersions(version, pkg.newVersion) <= 0 && !version.endsWith(".x")) {
        return `says fixed in ${version}, and the update brings ${pkg.name} ${pkg.newVersion}`;
      }
    }
  }
  return undefined;
}
