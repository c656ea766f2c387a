/** Globs for glob.test.ts, in a module of their own so that its measuring thread can load them. */

/** Four directories of 200 `a`s: paths of about 800 characters, near what a file system allows. */
export const LONG_DIRS = Array.from({ length: 4 }, () => "a".repeat(200));

/** Every glob is given 16 times: as many as a configuration may reasonably hold. */
const sixteen = (glob: string) => Array.from({ length: 16 }, () => glob);

/**
 * Globs that match none of the files (no path holds `c`) and make a backtracking matcher try every
 * way to split the path among their stars: `**a**a**a**a**a**c` took 13 s on a long name.
 */
export const HOSTILE_GLOBS: Record<string, string[]> = {
  "**a**a**a**a**a**c": sixteen("**a**a**a**a**a**c"),
  "*a*a*a*a*a*c (one segment)": sixteen(`${LONG_DIRS[0]}/${"*a".repeat(12)}*c`),
  "a/**/a/**/…/c": sixteen(`${"a*/**/".repeat(20)}c`),
  "?*?*?*…c": sixteen(`**/${"?*".repeat(60)}c`),
  "256 characters of **a": sixteen(`${"**a".repeat(85)}c`),
};

/** As many globs of the longest length allowed, as a person writes them: the yardstick. */
export const BENIGN_GLOBS = sixteen(`**/${"b".repeat(249)}.nix`);
