/**
 * The globs of `nix-deploy-scan.json`'s `ignore`, matched without backtracking.
 *
 * As in .gitignore: `*` and `?` stay within one path segment, `**` crosses segments (`**\/` may
 * match nothing, so `**\/secrets.nix` matches `secrets.nix`), a glob with a `/` is anchored at the
 * flake root and one without matches the name at any depth, and a glob that matches a directory
 * (`vendor`, `vendor/`) matches everything below it. Every other character stands for itself.
 *
 * A regular expression built from a glob backtracks: `**a**a**a**a**a**c` against a long name took
 * 13 s, six groups never returned, and the event loop stood still meanwhile. Here a glob is a
 * small automaton over its own positions, and every position it could be at is advanced at once,
 * one bit each (bit-parallel simulation of the NFA): a path costs its length times the glob's
 * length in 32-bit words, whatever the glob holds.
 */

/** Longest glob accepted, in characters: it bounds the work per character of a path. */
export const MAX_GLOB_LENGTH = 256;

const LITERAL = 0; // one given character
const ONE = 1; // `?`: one character but `/`
const STAR = 2; // `*`: any run of characters but `/`
const ANY = 3; // `**` (not before `/`): any run of characters
const DIRS = 4; // `**/`: nothing, or any run of characters that ends with `/`

const SLASH = 47;

/** Steps that can match nothing: reaching one reaches the position after it too. */
const MAY_BE_EMPTY = [false, false, true, true, true];
/**
 * Steps that may end after any character they took. `**\/` may not: once it has taken a
 * character it ends only with a `/` (`**\/x` does not match `ax`).
 */
const MAY_END_ANYWHERE = [false, false, true, true, false];

export interface Glob {
  /** Does the glob match this path (relative to the flake root, `/` between segments)? */
  test(path: string): boolean;
}

/** The glob's steps: one per character, `*` run or `**\/`, with runs of stars made one step. */
function steps(glob: string): Array<{ kind: number; char: number }> {
  const out: Array<{ kind: number; char: number }> = [];
  const push = (kind: number, char = -1) => {
    const last = out[out.length - 1];
    // `**` next to `*`, `**` or `**/` is still `**`; `**/**/` is `**/`: a step that can only
    // repeat what its neighbour matches adds nothing but work.
    if (last && (kind === ANY || kind === DIRS) && (last.kind === ANY || last.kind === DIRS)) {
      last.kind = kind === DIRS && last.kind === DIRS ? DIRS : ANY;
      return;
    }
    if (last && kind === STAR && last.kind === ANY) return;
    out.push({ kind, char });
  };
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === 42 /* * */) {
      let j = i;
      while (glob.charCodeAt(j) === 42) j++;
      if (j - i === 1) push(STAR);
      else if (glob.charCodeAt(j) === SLASH) {
        push(DIRS);
        j++;
      } else push(ANY);
      i = j - 1;
    } else if (c === 63 /* ? */) push(ONE);
    else push(LITERAL, c);
  }
  return out;
}

/**
 * A glob as a matcher. `glob` must be at most MAX_GLOB_LENGTH characters (the configuration is
 * checked before it gets here).
 */
export function compileGlob(glob: string): Glob {
  if (glob.length > MAX_GLOB_LENGTH) throw new RangeError(`a glob longer than ${MAX_GLOB_LENGTH} characters`);
  // Without a slash the glob matches at any depth: as if it began with `**\/`.
  const anchored = glob.includes("/");
  const body = anchored && glob.startsWith("/") ? glob.slice(1) : glob;
  // `vendor/` names a directory: once it is matched, whatever follows is below it.
  const directory = body.endsWith("/");
  const list = steps(anchored ? body : `**/${body}`);
  const m = list.length; // position m: the whole glob matched
  const words = (m >> 5) + 1;
  const mask = () => new Uint32Array(words);
  const set = (bits: Uint32Array, i: number) => {
    bits[i >> 5] = (bits[i >> 5] as number) | (1 << (i & 31));
  };
  const one = mask();
  const star = mask();
  const loops = mask(); // ANY and DIRS stay where they are on any character
  const dirs = mask();
  const empty = mask();
  const endAnywhere = mask();
  const literals = new Map<number, Uint32Array>();
  list.forEach((step, i) => {
    if (step.kind === LITERAL) {
      let bits = literals.get(step.char);
      if (!bits) literals.set(step.char, (bits = mask()));
      set(bits, i);
    } else if (step.kind === ONE) set(one, i);
    else if (step.kind === STAR) set(star, i);
    else {
      set(loops, i);
      if (step.kind === DIRS) set(dirs, i);
    }
    if (MAY_BE_EMPTY[step.kind]) set(empty, i);
    if (MAY_END_ANYWHERE[step.kind]) set(endAnywhere, i);
  });
  const accepting = m >> 5;
  const acceptBit = 1 << (m & 31);
  const start = mask();
  set(start, 0);
  // The positions reached so far and those after the next character (reused: one glob tests
  // thousands of paths).
  let now = mask();
  let next = mask();
  const entered = mask();

  /** Adds to `bits`, positions just reached, those that follow them without taking a character. */
  const close = (bits: Uint32Array) => {
    for (let changed = true; changed; ) {
      changed = false;
      let carry = 0;
      for (let w = 0; w < words; w++) {
        const from = (bits[w] as number) & (empty[w] as number);
        const reached = ((from << 1) | carry) >>> 0;
        carry = from >>> 31;
        const before = bits[w] as number;
        const after = (before | reached) >>> 0;
        if (after !== before) {
          bits[w] = after;
          changed = true;
        }
      }
    }
  };
  close(start);

  return {
    test(path: string): boolean {
      now.set(start);
      for (let p = 0; p < path.length; p++) {
        const c = path.charCodeAt(p);
        // The glob matched a directory that holds the path: everything below it matches too.
        if ((c === SLASH || (directory && p > 0)) && ((now[accepting] as number) & acceptBit) !== 0)
          return true;
        const literal = literals.get(c);
        let carry = 0;
        let alive = 0;
        for (let w = 0; w < words; w++) {
          const at = now[w] as number;
          // Steps that take the character and end: a matching literal, `?`, the `/` that ends `**/`.
          let end = literal ? at & (literal[w] as number) : 0;
          if (c !== SLASH) end |= at & (one[w] as number);
          else end |= at & (dirs[w] as number);
          // Steps that take the character and go on: `*` (not on `/`), `**`, `**/`.
          let stay = at & (loops[w] as number);
          if (c !== SLASH) stay |= at & (star[w] as number);
          // `*` and `**` may also end right after it.
          end |= stay & (endAnywhere[w] as number);
          entered[w] = ((end << 1) | carry) >>> 0;
          carry = end >>> 31;
          next[w] = stay;
          alive |= stay | (entered[w] as number);
        }
        if (alive === 0) return false;
        close(entered);
        for (let w = 0; w < words; w++) next[w] = ((next[w] as number) | (entered[w] as number)) >>> 0;
        [now, next] = [next, now];
      }
      return ((now[accepting] as number) & acceptBit) !== 0;
    },
  };
}
