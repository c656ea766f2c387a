import { parseNix, shown } from "./parser.js";
import { type Resolution, resolveScopes } from "./scope.js";
import type { Expr, NodeIndex } from "./syntax.js";

/** A place in a file: 1-based line and byte column (as Nix prints them), 0-based byte offset. */
export interface Position {
  line: number;
  column: number;
  offset: number;
}

/**
 * One Nix file's bytes, read as latin1 so that string offsets are byte offsets; lines are decoded
 * as UTF-8 only when shown to a person.
 */
export class SourceText {
  readonly text: string;
  private lineStarts?: number[];
  /** The line shown last: the findings on one line share its text rather than each decoding it. */
  private shownLine = { line: 0, max: 0, text: "" };

  constructor(readonly bytes: Buffer) {
    this.text = bytes.toString("latin1");
  }

  static fromString(code: string): SourceText {
    return new SourceText(Buffer.from(code, "utf8"));
  }

  private starts(): number[] {
    if (!this.lineStarts) {
      const starts = [0];
      const text = this.text;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    return this.lineStarts;
  }

  position(offset: number): Position {
    const starts = this.starts();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] as number) + 1, offset };
  }

  /** The line as a person reads it (UTF-8), without its newline, cut to a readable length. */
  lineText(line: number, max = 160): string {
    if (this.shownLine.line === line && this.shownLine.max === max) return this.shownLine.text;
    const starts = this.starts();
    const start = starts[line - 1] ?? this.bytes.length;
    const end = starts[line] !== undefined ? (starts[line] as number) - 1 : this.bytes.length;
    // Decode no more than `max` characters can take (4 bytes each in UTF-8): a file that is one
    // long line with many findings must not have the whole line decoded for each of them.
    const cut = Math.min(end, start + max * 4);
    const text = this.bytes.subarray(start, cut).toString("utf8").replace(/\r$/, "");
    const result = text.length > max || cut < end ? `${text.slice(0, max)}…` : text;
    this.shownLine = { line, max, text: result };
    return result;
  }

  slice(start: number, end: number): string {
    return this.text.slice(start, end);
  }
}

export interface SyntaxCheck {
  ast?: Expr;
  errors: Array<{ message: string; offset: number }>;
  resolution?: Resolution;
}

/**
 * Parses and resolves variables, as `nix-instantiate --parse` does: syntax errors first, and only
 * for a file without them, undefined variables. An `index` is filled with the nodes on the way.
 */
export function checkSyntax(source: SourceText, index?: NodeIndex): SyntaxCheck {
  const parsed = parseNix(source.text);
  if (parsed.errors.length > 0 || !parsed.ast) return { ast: parsed.ast, errors: listed(parsed.errors) };
  const resolution = resolveScopes(source.text, parsed.ast, index);
  return {
    ast: parsed.ast,
    errors: listed(
      resolution.undefinedVars.map((v) => ({
        message: `undefined variable '${shown(v.name)}'`,
        offset: v.start,
      })),
    ),
    resolution,
  };
}

/** How many syntax errors of one file are listed one by one. */
export const MAX_LISTED_ERRORS = 100;

/**
 * The first errors of a file, and one more that counts the rest. A file of a hundred thousand
 * errors (Nix itself stops at the first) would otherwise become a hundred thousand findings, each
 * with its source line: memory and time for nothing a person reads.
 */
function listed(
  errors: Array<{ message: string; offset: number }>,
): Array<{ message: string; offset: number }> {
  if (errors.length <= MAX_LISTED_ERRORS + 1) return errors;
  const rest = errors.length - MAX_LISTED_ERRORS;
  return [
    ...errors.slice(0, MAX_LISTED_ERRORS),
    {
      message: `${rest} more syntax errors from here to the end of the file, not listed one by one; fix the first ones and check again`,
      offset: (errors[MAX_LISTED_ERRORS] as { offset: number }).offset,
    },
  ];
}
