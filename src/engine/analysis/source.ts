import { parseNix } from "./parser.js";
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
    const starts = this.starts();
    const start = starts[line - 1] ?? this.bytes.length;
    const end = starts[line] !== undefined ? (starts[line] as number) - 1 : this.bytes.length;
    const text = this.bytes.subarray(start, end).toString("utf8").replace(/\r$/, "");
    return text.length > max ? `${text.slice(0, max)}…` : text;
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
  if (parsed.errors.length > 0 || !parsed.ast) return { ast: parsed.ast, errors: parsed.errors };
  let resolution: Resolution;
  try {
    resolution = resolveScopes(source.text, parsed.ast, index);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return { errors: [{ message: "expression nested too deeply to resolve", offset: parsed.ast.start }] };
  }
  return {
    ast: parsed.ast,
    errors: resolution.undefinedVars.map((v) => ({
      message: `undefined variable '${v.name}'`,
      offset: v.start,
    })),
    resolution,
  };
}
