/**
 * A hand-written, recursive-descent parser for the Nix language, run in-process.
 *
 * Why not web-tree-sitter with the tree-sitter-nix grammar: the bar is the same accept/reject verdict
 * as `nix-instantiate --parse` on every file, and that verdict includes checks a context-free grammar
 * does not make — duplicate attributes (`{ a = 1; a.b = 2; }`), duplicate formals, dynamic attributes
 * in `let`/`inherit`, integer overflow, trailing slashes in paths, non-associative `==`/`<`, and
 * undefined variables (Nix resolves variables while parsing). tree-sitter-nix also accepts forms Nix
 * rejects (`1 + if ...`, `{ ..., a }`) because it is built for editors, and its error recovery
 * invents nodes. Here the lexer follows the flex rules of Nix's lexer (longest match, paths,
 * `''` escapes, URIs) and the grammar its bison rules and precedences, so agreement is by design
 * and checked by the differential test against real Nix.
 *
 * The input is the file's bytes decoded as latin1, so every offset is a byte offset and columns are
 * byte columns, as Nix reports them. Syntax errors are collected, not thrown: after an error in a
 * binding the parser skips to the next `;` and goes on, so one pass reports every broken binding.
 */
import type { AttrName, Binding, Expr, Formal, StringNode, TextPart } from "./syntax.js";
import { staticAttrName, unparen } from "./syntax.js";

export interface NixSyntaxError {
  message: string;
  /** Byte offset in the file. */
  offset: number;
}

export interface ParseResult {
  /** The tree; undefined only when nothing could be parsed at all. */
  ast?: Expr;
  errors: NixSyntaxError[];
}

type TokenType =
  | "ID"
  | "INT"
  | "FLOAT"
  | "PATH"
  | "HPATH"
  | "SPATH"
  | "URI"
  | "STRING_OPEN"
  | "IND_OPEN"
  | "DOLLAR_CURLY"
  | "EOF"
  | "INVALID"
  // keywords and operators are their own text
  | string;

interface Token {
  type: TokenType;
  start: number;
  end: number;
}

const KEYWORDS = new Set(["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"]);
/**
 * The keyword a word could be, by its first two characters and its length (no two keywords share a
 * slot), so the lexer checks an identifier with one table read and one in-place comparison.
 */
const keywordSlot = (first: number, second: number, length: number) =>
  (((first + second) & 127) << 3) | length;
const KEYWORD_SLOTS: string[] = new Array(128 * 8).fill("");
for (const k of KEYWORDS) {
  const slot = keywordSlot(k.charCodeAt(0), k.charCodeAt(1), k.length);
  if (KEYWORD_SLOTS[slot] !== "") throw new Error(`keywords ${k} and ${KEYWORD_SLOTS[slot]} share a slot`);
  KEYWORD_SLOTS[slot] = k;
}
/** Two-character operators, each mapped to itself as an interned constant for the token type. */
const TWO_CHAR_OPS = new Map(["==", "!=", "<=", ">=", "&&", "||", "->", "//", "++"].map((op) => [op, op]));
const ONE_CHAR_OPS = new Set([..."{}[]();:,.@?=<>+-*/!"]);

const C = (s: string) => s.charCodeAt(0);
const SLASH = C("/");
const DOLLAR = C("$");
const LBRACE = C("{");
const QUOTE = C('"');
const APOS = C("'");
const BACKSLASH = C("\\");

// Character classes as bits in a table: the lexer asks these for every character it reads.
const ALPHA = 1;
const DIGIT = 2;
const ID_EXTRA = 4; // _ ' -
const PATH_EXTRA = 8; // . _ - +
const BOTH_EXTRA = 16; // _ - (in identifiers and in paths)
const CLASSES = Uint8Array.from({ length: 128 }, (_, c) => {
  const ch = String.fromCharCode(c);
  return (
    (/[a-zA-Z]/.test(ch) ? ALPHA : 0) |
    (/[0-9]/.test(ch) ? DIGIT : 0) |
    ("_'-".includes(ch) ? ID_EXTRA : 0) |
    ("._-+".includes(ch) ? PATH_EXTRA : 0) |
    ("_-".includes(ch) ? BOTH_EXTRA : 0)
  );
});
const classOf = (c: number): number => (c < 128 ? (CLASSES[c] as number) : 0);
const ID_AND_PATH = ALPHA | DIGIT | BOTH_EXTRA;

function isAlpha(c: number): boolean {
  return (classOf(c) & ALPHA) !== 0;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdStart(c: number): boolean {
  return (classOf(c) & ALPHA) !== 0 || c === 95;
}
function isIdChar(c: number): boolean {
  return (classOf(c) & (ALPHA | DIGIT | ID_EXTRA)) !== 0;
}
/** `[a-zA-Z0-9._\-+]`, the characters of a path segment. */
export function isPathChar(c: number): boolean {
  return (classOf(c) & (ALPHA | DIGIT | PATH_EXTRA)) !== 0;
}
const URI_CHARS = new Set([..."%/?:@&=+$,-_.!~*'"].map(C));
function isUriChar(c: number): boolean {
  return isAlpha(c) || isDigit(c) || URI_CHARS.has(c);
}

const MAX_INT = 9223372036854775807n;

/** Characters that are a token by themselves whatever follows. */
const SINGLE_TOKENS: Record<number, string> = Object.fromEntries(
  [..."{}[]();,@?:*"].map((ch) => [C(ch), ch]),
);
/** First character → [second character, two-character token, one-character token when not]. */
const PAIR_TOKENS: Record<number, [number, string, string | undefined]> = {
  [C("=")]: [C("="), "==", "="],
  [C("!")]: [C("="), "!=", "!"],
  [C(">")]: [C("="), ">=", ">"],
  [C("&")]: [C("&"), "&&", undefined],
  [C("|")]: [C("|"), "||", undefined],
  [C("$")]: [C("{"), "DOLLAR_CURLY", undefined],
  [C("'")]: [C("'"), "IND_OPEN", undefined],
};

/** Operator precedence as in Nix's grammar, low to high. */
const BINARY = new Map<string, { prec: number; assoc: "left" | "right" | "none" }>(
  Object.entries({
    "->": { prec: 1, assoc: "right" },
    "||": { prec: 2, assoc: "left" },
    "&&": { prec: 3, assoc: "left" },
    "==": { prec: 4, assoc: "none" },
    "!=": { prec: 4, assoc: "none" },
    "<": { prec: 5, assoc: "none" },
    ">": { prec: 5, assoc: "none" },
    "<=": { prec: 5, assoc: "none" },
    ">=": { prec: 5, assoc: "none" },
    "//": { prec: 6, assoc: "right" },
    "+": { prec: 8, assoc: "left" },
    "-": { prec: 8, assoc: "left" },
    "*": { prec: 9, assoc: "left" },
    "/": { prec: 9, assoc: "left" },
    "++": { prec: 10, assoc: "right" },
    "?": { prec: 11, assoc: "left" },
  }),
);
/** First characters of binary operators: most tokens after an operand are not one (`;`, `}`, `ID`). */
const BINARY_FIRST = Uint8Array.from({ length: 128 }, (_, c) =>
  [...BINARY.keys()].some((op) => op.charCodeAt(0) === c) ? 1 : 0,
);
const NOT_PREC = 7;
const NEGATE_PREC = 12;

/**
 * A syntax error on its way to the nearest place that records it. Not an Error: a file with a
 * hundred thousand broken bindings throws a hundred thousand of these, and capturing a stack trace
 * for each (which an Error does) costs more than parsing the file.
 */
class Failure {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

/**
 * How deeply expressions may nest. Nix's parser (bison) gives up with "memory exhausted" when its
 * stack holds 10,000 symbols; every nesting level counted here holds at least one (`(`, `[`, `-`,
 * `x:`, ...), so every file Nix accepts is within the limit. The count, not the JavaScript stack,
 * decides: a file nested a million deep gets this clear error at once, not a stack overflow.
 */
export const MAX_NESTING = 10_000;

/** Token text as shown in a message: a name or number of a megabyte is cut. */
export function shown(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Slots of an attribute set as Nix's parser keeps them, to find duplicate attributes as it does. */
type Slot = { kind: "attrs"; children: Map<string, Slot> } | { kind: "value" } | { kind: "inherited" };
/** Leaf slots carry nothing but their kind, so every leaf shares one of these. */
const VALUE_SLOT: Slot = { kind: "value" };
const INHERITED_SLOT: Slot = { kind: "inherited" };

export function parseNix(text: string): ParseResult {
  return new Parser(text).parseFile();
}

class Parser {
  private pos = 0;
  private tok: Token;
  readonly errors: NixSyntaxError[] = [];
  /**
   * The attribute-set literal parsed last and its slots, for merging `a = { ... }; a.b = ...` as Nix
   * does: a binding's value is such a literal only when the literal is the last thing before `;`.
   */
  private lastAttrs?: Expr;
  private lastSlots?: Map<string, Slot>;
  /** Nesting levels open now; see MAX_NESTING. */
  private depth = 0;

  constructor(private readonly src: string) {
    this.tok = this.lex();
  }

  parseFile(): ParseResult {
    let ast: Expr | undefined;
    try {
      ast = this.expr();
      if (!this.at("EOF")) this.fail(`unexpected ${this.describe(this.tok)}, expecting end of file`);
    } catch (error) {
      if (error instanceof RangeError) {
        // Nesting deeper than the JavaScript stack: a finding at the place we got to, not a crash
        // (Nix's own parser gives up on such files too, with "memory exhausted").
        this.errors.push({ message: "expression nested too deeply to parse", offset: this.tok.start });
        return { errors: this.errors };
      }
      if (!(error instanceof Failure)) throw error;
      this.errors.push({ message: error.message, offset: error.offset });
    }
    return { ast, errors: this.errors };
  }

  // ---------------------------------------------------------------- lexer (DEFAULT state)

  private skipTrivia(p: number): number {
    const src = this.src;
    for (;;) {
      const c = src.charCodeAt(p);
      if (c === 32 || c === 9 || c === 10 || c === 13) p++;
      else if (c === 35) {
        while (p < src.length && src.charCodeAt(p) !== 10 && src.charCodeAt(p) !== 13) p++;
      } else if (c === SLASH && src.charCodeAt(p + 1) === 42) {
        // An unterminated comment is no comment to Nix: `/` is then an operator (and an error). Once
        // no `*/` follows some position, none follows any later one: remembering that keeps a file
        // of many `/*` from searching the rest of the file at each of them.
        const close = p + 2 >= this.noCommentEndFrom ? -1 : src.indexOf("*/", p + 2);
        if (close < 0) {
          this.noCommentEndFrom = Math.min(this.noCommentEndFrom, p + 2);
          return p;
        }
        p = close + 2;
      } else return p;
    }
  }

  /** Longest match of `{PATH_CHAR}*(\/{PATH_CHAR}+)+\/?` at p, 0 if none. */
  private pathLen(p: number): number {
    let i = p;
    while (isPathChar(this.src.charCodeAt(i))) i++;
    const end = this.segmentsEnd(i);
    return end > i ? end - p : 0;
  }

  /** Where `(\/{PATH_CHAR}+)+\/?` at i ends; i itself when there is no such segment. */
  private segmentsEnd(i: number): number {
    const src = this.src;
    const from = i;
    while (src.charCodeAt(i) === SLASH && isPathChar(src.charCodeAt(i + 1))) {
      i += 2;
      while (isPathChar(src.charCodeAt(i))) i++;
    }
    if (i > from && src.charCodeAt(i) === SLASH) i++;
    return i;
  }

  /** Whether `\/\$\{` is at i: a path whose text ends at i goes on with an interpolation. */
  private dollarAfter(i: number): boolean {
    const src = this.src;
    return (
      src.charCodeAt(i) === SLASH && src.charCodeAt(i + 1) === DOLLAR && src.charCodeAt(i + 2) === LBRACE
    );
  }

  private lex(from = this.pos): Token {
    const p = this.skipTrivia(from);
    const tok = this.lexAt(p);
    this.pos = tok.end;
    return tok;
  }

  /**
   * The last run of path characters scanned (`[a-zA-Z0-9._+-]+` from runStart to runEnd). Every
   * token that starts inside it sees the same run end, and the same text after it: where a path
   * or a URI going on past the run would end. Each of those is found once per run and kept here;
   * finding them again for every token of a long run (`1-1-1-…`, `a.b.c.…` before a `/` or `:`)
   * read the rest of the run once per token, which made lexing quadratic.
   */
  private runStart = -1;
  private runEnd = -1;
  /** End of the path segments (`/seg/seg`) right after the run, runEnd when none; -1 until needed. */
  private runPathEnd = -1;
  /** End of a URI whose scheme ends at the run's end (`…:rest`), 0 when none; -1 until needed. */
  private runUriEnd = -1;
  /** The run's last `_`, which no URI scheme may contain (runStart - 1 when none); -2 until needed. */
  private runLastUnderscore = -2;
  /** From here on the file holds no `*\/`: a `/*` there starts no comment. */
  private noCommentEndFrom = Number.POSITIVE_INFINITY;

  /** Longest match so far while lexing one token (fields, not a closure: this runs per token). */
  private best = 0;
  private bestType: TokenType = "INVALID";

  private consider(len: number, type: TokenType): void {
    if (len > this.best) {
      this.best = len;
      this.bestType = type;
    }
  }

  private lexAt(p: number): Token {
    const src = this.src;
    if (p >= src.length) return { type: "EOF", start: p, end: p };
    const c = src.charCodeAt(p);
    // Most tokens are decided by their first characters. A run of path characters not followed by
    // `/` or `:` cannot become a path or a URI (`cfg.level`, `42`, `->`); punctuation that starts
    // nothing longer is itself. Everything else goes through the longest-match rules below.
    if (isPathChar(c)) {
      // One scan finds both the identifier run and the path-character run: they share
      // `[a-zA-Z0-9_-]`; `.` and `+` end an identifier but not a path, `'` the other way round.
      let run: number;
      let idEnd: number;
      if (p > this.runStart && p < this.runEnd) {
        // Inside a run scanned for an earlier token (`b` and `.c` in `a.b.c`): it ends where that did.
        run = this.runEnd;
        // Only an identifier needs its own end. Scanning `[a-zA-Z0-9_'-]*` at every `1` of
        // `1-1-1-…` (digits and `-` are identifier characters) read the rest of the run each time.
        idEnd = p + 1;
        if (isIdStart(c)) while (isIdChar(src.charCodeAt(idEnd))) idEnd++;
      } else {
        run = p + 1;
        let k = classOf(src.charCodeAt(run));
        while ((k & ID_AND_PATH) !== 0) k = classOf(src.charCodeAt(++run));
        idEnd = run;
        if ((k & PATH_EXTRA) !== 0) {
          while (isPathChar(src.charCodeAt(run))) run++;
        } else if ((k & ID_EXTRA) !== 0) {
          while (isIdChar(src.charCodeAt(idEnd))) idEnd++;
        }
        this.runStart = p;
        this.runEnd = run;
        this.runPathEnd = -1;
        this.runUriEnd = -1;
        this.runLastUnderscore = -2;
      }
      const next = src.charCodeAt(run);
      if (next !== SLASH && next !== 58) {
        let i = p + 1;
        if (isIdStart(c)) return { type: this.keywordAt(p, idEnd - p) ?? "ID", start: p, end: idEnd };
        if (isDigit(c)) {
          while (isDigit(src.charCodeAt(i))) i++;
          // A float needs a `.` right after its digits.
          const float = src.charCodeAt(i) === 46 ? this.floatLen(p) : 0;
          return float > i - p
            ? { type: "FLOAT", start: p, end: p + float }
            : { type: "INT", start: p, end: i };
        }
        const n = src.charCodeAt(p + 1);
        if (c === 46 /* . */) {
          if (n === 46 && src.charCodeAt(p + 2) === 46) return { type: "...", start: p, end: p + 3 };
          const float = this.floatLen(p);
          return float > 0
            ? { type: "FLOAT", start: p, end: p + float }
            : { type: ".", start: p, end: p + 1 };
        }
        if (c === 45 /* - */)
          return n === 62 ? { type: "->", start: p, end: p + 2 } : { type: "-", start: p, end: p + 1 };
        if (c === 43 /* + */)
          return n === 43 ? { type: "++", start: p, end: p + 2 } : { type: "+", start: p, end: p + 1 };
      }
    } else {
      const single = SINGLE_TOKENS[c];
      if (single) return { type: single, start: p, end: p + 1 };
      const pair = PAIR_TOKENS[c];
      if (pair && src.charCodeAt(p + 1) === pair[0]) return { type: pair[1], start: p, end: p + 2 };
      if (pair && pair[2]) return { type: pair[2], start: p, end: p + 1 };
      if (c === QUOTE) return { type: "STRING_OPEN", start: p, end: p + 1 };
    }
    this.best = 0;
    this.bestType = "INVALID";
    // Keywords and operators come first in Nix's lexer, so they win ties with identifiers.
    if (src.startsWith("...", p)) this.consider(3, "...");
    const two = TWO_CHAR_OPS.get(src.slice(p, p + 2));
    if (two) this.consider(2, two);
    if (isIdStart(c)) {
      let i = p + 1;
      while (isIdChar(src.charCodeAt(i))) i++;
      this.consider(i - p, this.keywordAt(p, i - p) ?? "ID");
    }
    if (isDigit(c)) {
      let i = p + 1;
      while (isDigit(src.charCodeAt(i))) i++;
      this.consider(i - p, "INT");
    }
    if (isDigit(c) || c === 46) this.consider(this.floatLen(p), "FLOAT");
    if (c === DOLLAR && src.charCodeAt(p + 1) === LBRACE) this.consider(2, "DOLLAR_CURLY");
    if (c === QUOTE) this.consider(1, "STRING_OPEN");
    if (c === APOS && src.charCodeAt(p + 1) === APOS) this.consider(2, "IND_OPEN");
    if (isPathChar(c) || c === SLASH) {
      // p is in the run scanned above, or at a `/` that starts the path's first segment.
      const textEnd = c === SLASH ? p : this.runEnd;
      if (c === SLASH) this.consider(this.pathLen(p), "PATH");
      else {
        if (this.runPathEnd < 0) this.runPathEnd = this.segmentsEnd(this.runEnd);
        if (this.runPathEnd > this.runEnd) this.consider(this.runPathEnd - p, "PATH");
      }
      // `dir/${x}` is a path whose first segment ends before the interpolation; flex compares the
      // length with the `${`, the token ends before it.
      const seg = this.dollarAfter(textEnd) ? textEnd + 3 - p : 0;
      if (seg > this.best) {
        this.best = seg - 2;
        this.bestType = "PATH";
      }
    }
    if (c === 126 /* ~ */ && src.charCodeAt(p + 1) === SLASH) {
      if (src.charCodeAt(p + 2) === DOLLAR && src.charCodeAt(p + 3) === LBRACE) {
        this.best = 2;
        this.bestType = "HPATH";
      } else {
        const rest = this.pathLen(p + 1);
        if (rest > 0) this.consider(rest + 1, "HPATH");
      }
    }
    if (c === 60 /* < */) {
      let i = p + 1;
      while (isPathChar(src.charCodeAt(i))) i++;
      if (i > p + 1) {
        for (;;) {
          if (src.charCodeAt(i) === SLASH && isPathChar(src.charCodeAt(i + 1))) {
            i += 2;
            while (isPathChar(src.charCodeAt(i))) i++;
          } else break;
        }
        if (src.charCodeAt(i) === 62) this.consider(i + 1 - p, "SPATH");
      }
    }
    if (isAlpha(c)) {
      // A URI's scheme is `[a-zA-Z0-9+.-]*`: the run's characters but `_`. So a scheme starting
      // at p reaches the `:` after the run exactly when no `_` lies between.
      if (this.runLastUnderscore === -2) {
        let u = this.runEnd - 1;
        while (u >= this.runStart && src.charCodeAt(u) !== 95) u--;
        this.runLastUnderscore = u;
      }
      if (this.runUriEnd < 0) {
        let i = this.runEnd;
        if (src.charCodeAt(i) === 58 && isUriChar(src.charCodeAt(i + 1))) {
          i++;
          while (isUriChar(src.charCodeAt(i))) i++;
          this.runUriEnd = i;
        } else this.runUriEnd = 0;
      }
      if (this.runUriEnd > 0 && this.runLastUnderscore < p) this.consider(this.runUriEnd - p, "URI");
    }
    if (this.best === 0 && ONE_CHAR_OPS.has(src[p] as string)) this.consider(1, src[p] as string);
    if (this.best === 0) return { type: "INVALID", start: p, end: p + 1 };
    return { type: this.bestType, start: p, end: p + this.best };
  }

  /** The keyword spelled by the `length` characters at p, if any, compared in place (no slicing). */
  private keywordAt(p: number, length: number): string | undefined {
    if (length > 7 || length < 2) return undefined;
    const keyword = KEYWORD_SLOTS[
      keywordSlot(this.src.charCodeAt(p), this.src.charCodeAt(p + 1), length)
    ] as string;
    return keyword !== "" && this.src.startsWith(keyword, p) ? keyword : undefined;
  }

  private floatLen(p: number): number {
    const src = this.src;
    let i = p;
    const c = src.charCodeAt(p);
    if (c >= 49 && c <= 57) {
      while (isDigit(src.charCodeAt(i))) i++;
      if (src.charCodeAt(i) !== 46) return 0;
      i++;
      while (isDigit(src.charCodeAt(i))) i++;
    } else {
      if (c === 48) i++;
      if (src.charCodeAt(i) !== 46 || !isDigit(src.charCodeAt(i + 1))) return 0;
      i++;
      while (isDigit(src.charCodeAt(i))) i++;
    }
    const e = src.charCodeAt(i);
    if (e === 69 || e === 101) {
      let j = i + 1;
      if (src[j] === "+" || src[j] === "-") j++;
      if (isDigit(src.charCodeAt(j))) {
        while (isDigit(src.charCodeAt(j))) j++;
        i = j;
      }
    }
    return i - p;
  }

  /** Whether the current token is `type` (a method, so TypeScript does not narrow across advance()). */
  private at(type: string): boolean {
    return this.tok.type === type;
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lex();
    return t;
  }

  /** The token after the current one, without consuming anything. */
  private peek(): Token {
    return this.lexAt(this.skipTrivia(this.tok.end));
  }

  private peek2(): Token {
    const second = this.peek();
    return this.lexAt(this.skipTrivia(second.end));
  }

  private describe(t: Token): string {
    if (t.type === "EOF") return "end of file";
    if (t.type === "INVALID") return "invalid token";
    if (t.type === "ID" || t.type === "INT" || t.type === "FLOAT")
      return `'${shown(this.src.slice(t.start, t.end))}'`;
    if (KEYWORDS.has(t.type)) return `'${t.type}'`;
    if (t.type === "STRING_OPEN") return "'\"'";
    if (t.type === "IND_OPEN") return "\"''\"";
    if (t.type === "DOLLAR_CURLY") return "'${'";
    if (t.type.length <= 3) return `'${t.type}'`;
    return t.type.toLowerCase();
  }

  private fail(message: string, offset = this.tok.start): never {
    throw new Failure(message, offset);
  }

  /** One more nesting level opens here (each closes with `this.depth--`); past the limit, an error. */
  private nest(): void {
    if (++this.depth > MAX_NESTING)
      this.fail(
        `expressions nest more than ${MAX_NESTING} levels deep here, beyond what Nix's parser accepts ("memory exhausted"); split the expression with let bindings`,
      );
  }

  private expect(type: string): Token {
    if (this.tok.type !== type) this.fail(`unexpected ${this.describe(this.tok)}, expecting '${type}'`);
    return this.advance();
  }

  // ---------------------------------------------------------------- grammar

  private expr(): Expr {
    this.nest();
    const e = this.exprLevel();
    this.depth--;
    return e;
  }

  private exprLevel(): Expr {
    const t = this.tok;
    const start = t.start;
    if (t.type === "ID") {
      // Only `:` or `@` can follow an identifier that starts a function; both are single-character
      // tokens, so the next character decides.
      const after = this.src.charCodeAt(this.skipTrivia(t.end));
      if (after === 58) {
        const name = this.src.slice(t.start, t.end);
        this.advance();
        this.advance();
        const body = this.expr();
        return { kind: "Lambda", param: { name, start: t.start, end: t.end }, body, start, end: body.end };
      }
      if (after === 64) {
        const name = this.src.slice(t.start, t.end);
        this.advance();
        this.advance();
        if (!this.at("{")) this.fail(`unexpected ${this.describe(this.tok)}, expecting '{'`);
        const formals = this.formals();
        this.expect(":");
        const body = this.expr();
        this.checkAtName(name, formals.formals, start);
        return {
          kind: "Lambda",
          param: { name, start: t.start, end: t.end },
          formals,
          body,
          start,
          end: body.end,
        };
      }
    }
    if (t.type === "{" && this.looksLikeFormals()) {
      const formals = this.formals();
      let param: { name: string; start: number; end: number } | undefined;
      if (this.at("@")) {
        this.advance();
        const id = this.expect("ID");
        param = { name: this.src.slice(id.start, id.end), start: id.start, end: id.end };
      }
      this.expect(":");
      const body = this.expr();
      if (param) this.checkAtName(param.name, formals.formals, start);
      return { kind: "Lambda", param, formals, body, start, end: body.end };
    }
    if (t.type === "assert" || t.type === "with") {
      this.advance();
      const first = this.expr();
      this.expect(";");
      const body = this.expr();
      return t.type === "assert"
        ? { kind: "Assert", cond: first, body, start, end: body.end }
        : { kind: "With", env: first, body, start, end: body.end };
    }
    if (t.type === "let" && this.peek().type !== "{") {
      this.advance();
      const { bindings } = this.binds("in");
      for (const b of bindings)
        if (b.kind === "Bind" && b.path[0] && this.staticName(b.path[0]) === undefined)
          this.fail("dynamic attributes not allowed in let", b.path[0].start);
      const inTok = this.expect("in");
      const body = this.expr();
      return { kind: "Let", bindings, body, inStart: inTok.start, start, end: body.end };
    }
    if (t.type === "if") {
      this.advance();
      const cond = this.expr();
      this.expect("then");
      const then = this.expr();
      this.expect("else");
      const otherwise = this.expr();
      return { kind: "If", cond, then, else: otherwise, start, end: otherwise.end };
    }
    return this.exprOp(0);
  }

  private checkAtName(name: string, formals: Formal[], offset: number): void {
    if (formals.some((f) => f.name === name))
      this.fail(`duplicate formal function argument '${name}'`, offset);
  }

  /** After `{`: does a function's argument pattern follow, rather than an attribute set? */
  private looksLikeFormals(): boolean {
    const first = this.peek();
    if (first.type === "...") return true;
    if (first.type === "}") {
      const second = this.peek2();
      return second.type === ":" || second.type === "@";
    }
    if (first.type === "ID") {
      const second = this.peek2();
      return second.type === "," || second.type === "?" || second.type === "}";
    }
    return false;
  }

  private formals(): { formals: Formal[]; ellipsis: boolean; start: number; end: number } {
    const open = this.expect("{");
    const formals: Formal[] = [];
    // A set, not a search of the list: `{ a1, a2, … }` with many names must not cost their square.
    const names = new Set<string>();
    let ellipsis = false;
    for (;;) {
      if (this.at("}")) break;
      if (this.at("...")) {
        this.advance();
        ellipsis = true;
        break;
      }
      const id = this.expect("ID");
      const name = this.src.slice(id.start, id.end);
      let def: Expr | undefined;
      if (this.at("?")) {
        this.advance();
        def = this.expr();
      }
      if (names.has(name)) this.fail(`duplicate formal function argument '${name}'`, open.start);
      names.add(name);
      formals.push({ name, default: def, start: id.start, end: def ? def.end : id.end });
      if (!this.at(",")) break;
      this.advance();
    }
    const close = this.expect("}");
    return { formals, ellipsis, start: open.start, end: close.end };
  }

  private exprOp(minPrec: number): Expr {
    let left: Expr;
    const t = this.tok;
    if (t.type === "!" || t.type === "-") {
      this.advance();
      this.nest();
      const operand = this.exprOp(t.type === "!" ? NOT_PREC : NEGATE_PREC);
      this.depth--;
      left = { kind: "Unary", op: t.type, expr: operand, start: t.start, end: operand.end };
    } else left = this.exprApp();
    let lastNonAssoc = -1;
    for (;;) {
      const op = this.tok.type;
      if (BINARY_FIRST[op.charCodeAt(0)] !== 1) break;
      const info = BINARY.get(op);
      if (!info || info.prec < minPrec) break;
      if (info.assoc === "none" && info.prec === lastNonAssoc)
        this.fail(`unexpected ${this.describe(this.tok)}`);
      this.advance();
      if (op === "?") {
        const path = this.attrPath();
        const last = path[path.length - 1] as AttrName;
        left = { kind: "HasAttr", expr: left, path, start: left.start, end: last.end };
        continue;
      }
      this.nest();
      const right = this.exprOp(info.assoc === "right" ? info.prec : info.prec + 1);
      this.depth--;
      left = { kind: "Binary", op, left, right, start: left.start, end: right.end };
      if (info.assoc === "none") lastNonAssoc = info.prec;
    }
    return left;
  }

  private startsSimple(t: Token): boolean {
    switch (t.type) {
      case "ID":
      case "INT":
      case "FLOAT":
      case "STRING_OPEN":
      case "IND_OPEN":
      case "PATH":
      case "HPATH":
      case "SPATH":
      case "URI":
      case "(":
      case "{":
      case "[":
      case "rec":
        return true;
      case "let":
        return this.peek().type === "{";
      default:
        return false;
    }
  }

  private exprApp(): Expr {
    let fn = this.exprSelect();
    while (this.startsSimple(this.tok)) {
      const arg = this.exprSelect();
      fn = { kind: "Apply", fn, arg, start: fn.start, end: arg.end };
    }
    return fn;
  }

  private exprSelect(): Expr {
    const simple = this.exprSimple();
    if (this.at(".")) {
      this.advance();
      const path = this.attrPath();
      const last = path[path.length - 1] as AttrName;
      if (this.at("or")) {
        this.advance();
        this.nest();
        const def = this.exprSelect();
        this.depth--;
        return { kind: "Select", expr: simple, path, default: def, start: simple.start, end: def.end };
      }
      return { kind: "Select", expr: simple, path, start: simple.start, end: last.end };
    }
    if (this.at("or")) {
      // Nix keeps `f or` working as `f` applied to a variable named `or`, for an old nixpkgs function.
      const t = this.advance();
      const orVar: Expr = { kind: "Var", name: "or", start: t.start, end: t.end };
      return { kind: "Apply", fn: simple, arg: orVar, start: simple.start, end: t.end };
    }
    return simple;
  }

  private exprSimple(): Expr {
    const t = this.tok;
    switch (t.type) {
      case "ID":
        this.advance();
        return { kind: "Var", name: this.src.slice(t.start, t.end), start: t.start, end: t.end };
      case "INT": {
        const text = this.src.slice(t.start, t.end);
        // Only 19 significant digits or more can exceed 2^63 - 1, and only 19 need BigInt (which
        // takes more than linear time on a number a megabyte long).
        const digits = text.replace(/^0+/, "");
        if (digits.length > 19 || (digits.length === 19 && BigInt(digits) > MAX_INT))
          this.fail(`invalid integer '${shown(text)}'`);
        this.advance();
        return { kind: "Int", text: text, start: t.start, end: t.end };
      }
      case "FLOAT":
        this.advance();
        return { kind: "Float", text: this.src.slice(t.start, t.end), start: t.start, end: t.end };
      case "STRING_OPEN":
        return this.string();
      case "IND_OPEN":
        return this.indString();
      case "PATH":
      case "HPATH":
        return this.path();
      case "SPATH":
        this.advance();
        return {
          kind: "SearchPath",
          path: this.src.slice(t.start + 1, t.end - 1),
          start: t.start,
          end: t.end,
        };
      case "URI":
        this.advance();
        return { kind: "Uri", text: this.src.slice(t.start, t.end), start: t.start, end: t.end };
      case "(": {
        this.advance();
        const inner = this.expr();
        const close = this.expect(")");
        return { kind: "Paren", expr: inner, start: t.start, end: close.end };
      }
      case "let": {
        this.advance();
        this.expect("{");
        const { bindings } = this.binds("}");
        const close = this.expect("}");
        return { kind: "LegacyLet", bindings, start: t.start, end: close.end };
      }
      case "rec":
      case "{": {
        this.advance();
        if (t.type === "rec") this.expect("{");
        const { bindings, slots } = this.binds("}");
        const close = this.expect("}");
        const node: Expr = {
          kind: "Attrs",
          recursive: t.type === "rec",
          bindings,
          start: t.start,
          end: close.end,
        };
        this.lastAttrs = node;
        this.lastSlots = slots;
        return node;
      }
      case "[": {
        this.advance();
        const items: Expr[] = [];
        this.nest();
        while (this.startsSimple(this.tok)) items.push(this.exprSelect());
        this.depth--;
        const close = this.expect("]");
        return { kind: "List", items, start: t.start, end: close.end };
      }
      default:
        return this.fail(`unexpected ${this.describe(t)}`);
    }
  }

  // ---------------------------------------------------------------- strings and paths

  /** `${ expr }` starting at the current position of the raw scanner; returns the expression. */
  private interpolation(at: number): Expr {
    this.tok = this.lex(at + 2);
    const inner = this.expr();
    if (!this.at("}")) this.fail(`unexpected ${this.describe(this.tok)}, expecting '}'`);
    return inner;
  }

  private string(): StringNode {
    return this.stringBody(false);
  }

  private indString(): StringNode {
    return this.stringBody(true);
  }

  /**
   * The inside of `"..."` or `''...''` up to its closing quote, with `${ }` parsed in place. The
   * steps mirror Nix's lexer rules: in `"` strings `\X` and `$X` are pairs (so `$${` is literal); in
   * `''` strings `''$`, `'''` and `''\X` are escapes and any other `''` closes.
   */
  private stringBody(indented: boolean): StringNode {
    const src = this.src;
    const start = this.tok.start;
    const open = indented ? 2 : 1;
    const parts: TextPart[] = [];
    let p = start + open;
    let textStart = p;
    for (;;) {
      // Most characters are plain text in both kinds of string: step over them without the rules
      // below (NaN, past the end, is not plain and stops the run).
      let c = src.charCodeAt(p);
      while ((c > 39 && c !== BACKSLASH) || c < 34) c = src.charCodeAt(++p);
      if (p >= src.length) this.fail(`unexpected end of file, expecting ${indented ? `"''"` : `'"'`}`, p);
      const n = src.charCodeAt(p + 1);
      if (c === DOLLAR && n === LBRACE) {
        if (p > textStart) parts.push({ kind: "Text", start: textStart, end: p });
        parts.push(this.interpolation(p));
        p = this.tok.end;
        textStart = p;
        continue;
      }
      const step = indented ? this.indStringStep(p, c, n) : this.stringStep(c, n);
      if (step === 0) break;
      p += step;
    }
    if (p > textStart) parts.push({ kind: "Text", start: textStart, end: p });
    this.tok = this.lex(p + open);
    return { kind: "String", indented, parts, start, end: p + open };
  }

  /** Characters to consume at a `"` string position (not `${`); 0 at the closing quote. */
  private stringStep(c: number, n: number): number {
    if (c === QUOTE) return 0;
    if (c === BACKSLASH) return 2;
    if (c === DOLLAR) return n === QUOTE ? 1 : n === BACKSLASH ? 3 : 2;
    return 1;
  }

  /** Characters to consume at a `''` string position (not `${`); 0 at the closing `''`. */
  private indStringStep(p: number, c: number, n: number): number {
    if (c === APOS && n === APOS) {
      const after = this.src.charCodeAt(p + 2);
      if (after === DOLLAR || after === APOS) return 3;
      if (after === BACKSLASH && p + 3 < this.src.length) return 4;
      return 0;
    }
    if (c === DOLLAR) return n === APOS ? 1 : 2;
    if (c === APOS) return n === DOLLAR ? 1 : 2;
    return 1;
  }

  /** A path, possibly with interpolations: `./a/${b}/c`, `~/x${y}`. */
  private path(): Expr {
    const src = this.src;
    const first = this.tok;
    const parts: TextPart[] = [{ kind: "Text", start: first.start, end: first.end }];
    let p = first.end;
    let slash = src.charCodeAt(p - 1) === SLASH;
    for (;;) {
      if (src.charCodeAt(p) === DOLLAR && src.charCodeAt(p + 1) === LBRACE) {
        parts.push(this.interpolation(p));
        p = this.tok.end;
        slash = false;
        // After `}`: more path text (`{PATH}|{PATH_SEG}|{PATH_CHAR}+`), longest first.
        let q = p;
        const whole = this.pathLen(p);
        if (whole > 0) q = p + whole;
        else {
          while (isPathChar(src.charCodeAt(q))) q++;
          if (src.charCodeAt(q) === SLASH) q++;
        }
        if (q > p) {
          parts.push({ kind: "Text", start: p, end: q });
          slash = src.charCodeAt(q - 1) === SLASH;
          p = q;
        }
        continue;
      }
      if (slash) this.fail("path has a trailing slash", first.start);
      break;
    }
    this.tok = this.lex(p);
    return { kind: "Path", parts, start: first.start, end: p };
  }

  // ---------------------------------------------------------------- attribute paths and bindings

  private attrName(): AttrName {
    const t = this.tok;
    if (t.type === "ID" || t.type === "or") {
      this.advance();
      return { kind: "Ident", name: this.src.slice(t.start, t.end), start: t.start, end: t.end };
    }
    if (t.type === "STRING_OPEN") {
      const string = this.string();
      return { kind: "AttrString", string, start: string.start, end: string.end };
    }
    if (t.type === "DOLLAR_CURLY") {
      const expr = this.interpolation(t.start);
      const close = this.advance();
      return { kind: "Dynamic", expr, start: t.start, end: close.end };
    }
    return this.fail(`unexpected ${this.describe(t)}`);
  }

  private attrPath(): AttrName[] {
    const path = [this.attrName()];
    while (this.at(".")) {
      this.advance();
      path.push(this.attrName());
    }
    return path;
  }

  /** The name of an attribute when it is known while parsing (`a`, `"a"`, `${"a"}`), else undefined. */
  staticName(name: AttrName): string | undefined {
    return staticAttrName(this.src, name);
  }

  /**
   * Bindings up to `end` (`}` or `in`). A broken binding is reported, then skipped up to its `;`,
   * and parsing goes on with the next one.
   */
  private binds(end: "}" | "in"): { bindings: Binding[]; slots: Map<string, Slot> } {
    const bindings: Binding[] = [];
    const slots = new Map<string, Slot>();
    while (this.tok.type !== end && !this.at("EOF")) {
      const start = this.tok.start;
      // A failure skips the `depth--` of the levels it leaves; the binding starts at this depth.
      const depth = this.depth;
      try {
        if (this.at("inherit")) {
          this.advance();
          let from: Expr | undefined;
          if (this.at("(")) {
            this.advance();
            from = this.expr();
            this.expect(")");
          }
          const names: AttrName[] = [];
          while (!this.at(";")) {
            const t = this.tok;
            if (t.type !== "ID" && t.type !== "or" && t.type !== "STRING_OPEN" && t.type !== "DOLLAR_CURLY")
              this.fail(`unexpected ${this.describe(t)}, expecting ';'`);
            const name = this.attrName();
            const value = this.staticName(name);
            if (value === undefined) this.fail("dynamic attributes not allowed in inherit", name.start);
            if (slots.has(value)) this.fail(`attribute '${shown(value)}' already defined`, name.start);
            slots.set(value, from ? VALUE_SLOT : INHERITED_SLOT);
            names.push(name);
          }
          const semi = this.advance();
          bindings.push({ kind: "Inherit", from, names, start, end: semi.end });
        } else {
          const path = this.attrPath();
          this.expect("=");
          const value = this.expr();
          const semi = this.expect(";");
          this.addAttr(slots, path, value);
          bindings.push({ kind: "Bind", path, value, start, end: semi.end });
        }
      } catch (error) {
        if (!(error instanceof Failure)) throw error;
        this.depth = depth;
        this.errors.push({ message: error.message, offset: error.offset });
        this.recover(end);
      }
    }
    return { bindings, slots };
  }

  /** Skips to just after the next `;` at this nesting depth, or to the closing token. */
  private recover(end: string): void {
    let depth = 0;
    for (;;) {
      const t = this.tok.type;
      if (t === "EOF") return;
      if (depth === 0 && (t === end || t === "}")) {
        if (t !== end) this.fail(`unexpected ${this.describe(this.tok)}`);
        return;
      }
      if (t === "{" || t === "(" || t === "[" || t === "DOLLAR_CURLY") depth++;
      if (t === "}" || t === ")" || t === "]") depth--;
      // Strings are skipped by their opening quote only; their insides may lex as anything.
      this.tok = this.lex(t === "STRING_OPEN" || t === "IND_OPEN" ? this.skipString(this.tok) : this.tok.end);
      if (depth === 0 && t === ";") return;
    }
  }

  private skipString(t: Token): number {
    const close = t.type === "STRING_OPEN" ? '"' : "''";
    const at = this.src.indexOf(close, t.end);
    return at < 0 ? this.src.length : at + close.length;
  }

  /** Nix's duplicate-attribute rules: nested paths merge into attribute-set literals, nothing else. */
  private addAttr(slots: Map<string, Slot>, path: AttrName[], value: Expr): void {
    let map = slots;
    for (let i = 0; i < path.length - 1; i++) {
      const name = this.staticName(path[i] as AttrName);
      if (name === undefined) return;
      const slot = map.get(name);
      if (slot === undefined) {
        const nested: Slot = { kind: "attrs", children: new Map() };
        map.set(name, nested);
        map = nested.children;
      } else if (slot.kind === "attrs") map = slot.children;
      else this.fail(`attribute '${shown(this.pathText(path))}' already defined`, path[0]?.start);
    }
    const last = path[path.length - 1] as AttrName;
    const name = this.staticName(last);
    if (name === undefined) return;
    const inner = unparen(value);
    const literal = inner === this.lastAttrs ? this.lastSlots : undefined;
    const existing = map.get(name);
    if (existing === undefined) {
      map.set(name, literal ? { kind: "attrs", children: literal } : VALUE_SLOT);
      return;
    }
    if (existing.kind === "attrs" && literal) {
      for (const [key, slot] of literal) {
        if (existing.children.has(key))
          this.fail(`attribute '${shown(key)}' already defined`, path[0]?.start);
        existing.children.set(key, slot);
      }
      return;
    }
    this.fail(`attribute '${shown(this.pathText(path))}' already defined`, path[0]?.start);
  }

  private pathText(path: AttrName[]): string {
    return path.map((n) => this.staticName(n) ?? '"${...}"').join(".");
  }
}
