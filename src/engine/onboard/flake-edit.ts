/**
 * Adding a host's attribute to `nixosConfigurations` in flake.nix, for the shapes flakes commonly
 * have: an attribute set (`nixosConfigurations = { a = ...; };`, also as the right side of `//`),
 * or one attribute per line (`nixosConfigurations.a = ...;`). A flake that builds the set another
 * way (listToAttrs over a list, mapAttrs over a directory, flake-parts in another file) is refused
 * with the exact attribute to add by hand: guessing at code that computes the set could break it.
 */

import { parseNix } from "../analysis/parser.js";
import type { Binding, Expr, ExprOf } from "../analysis/syntax.js";
import { UserError } from "../errors.js";
import { type HostSpec, type InputRefs, renderFlakeEntry } from "./templates.js";

const unparen = (e: Expr): Expr => (e.kind === "Paren" ? unparen(e.expr) : e);

function identName(path: ExprOf<"Select">["path"][number] | undefined): string | undefined {
  if (!path) return undefined;
  if (path.kind === "Ident") return path.name;
  return undefined;
}

/** The flake's `outputs` function: what its argument names, for referring to inputs. */
export interface OutputsArgs {
  /** Names bound by `{ self, nixpkgs, ... }`. */
  formals: string[];
  /** `inputs` of `inputs@{ ... }` or of `outputs = inputs: ...`. */
  param?: string;
  body: Expr;
}

function outputsOf(ast: Expr): OutputsArgs {
  const top = unparen(ast);
  const outputs =
    top.kind === "Attrs"
      ? top.bindings.find(
          (b): b is Extract<Binding, { kind: "Bind" }> =>
            b.kind === "Bind" && b.path.length === 1 && identName(b.path[0]) === "outputs",
        )
      : undefined;
  const fn = outputs && unparen(outputs.value);
  if (!fn || fn.kind !== "Lambda")
    throw new UserError(
      "flake.nix has no `outputs = { ... }: ...` function that add_host can read",
      "add the host's nixosConfigurations attribute by hand",
    );
  return { formals: fn.formals?.formals.map((f) => f.name) ?? [], param: fn.param?.name, body: fn.body };
}

/** How the outputs function can name an input: by its formal, or through the `inputs` argument. */
export function inputRef(args: OutputsArgs, input: string): string | undefined {
  if (args.formals.includes(input)) return input;
  if (args.param) return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(input) ? `${args.param}.${input}` : undefined;
  return undefined;
}

type Place =
  | { kind: "set"; attrs: ExprOf<"Attrs"> }
  | { kind: "lines"; last: Extract<Binding, { kind: "Bind" }> };

/** Where nixosConfigurations is declared in the outputs, in a shape add_host edits. */
function findPlace(body: Expr): Place | undefined {
  let found: Place | undefined;
  const visit = (node: Expr) => {
    if (found) return;
    const e = unparen(node);
    if (e.kind === "Attrs" || e.kind === "Let" || e.kind === "LegacyLet") {
      const binds = e.bindings.filter((b): b is Extract<Binding, { kind: "Bind" }> => b.kind === "Bind");
      const ours = binds.filter((b) => identName(b.path[0]) === "nixosConfigurations");
      const whole = ours.find((b) => b.path.length === 1);
      if (whole) {
        let value = unparen(whole.value);
        // `base // { ... }`: the literal set on the right is where a new host goes.
        while (value.kind === "Binary" && value.op === "//") value = unparen(value.right);
        if (value.kind === "Attrs" && !value.recursive) found = { kind: "set", attrs: value };
        return;
      }
      const lines = ours.filter((b) => b.path.length === 2);
      if (lines.length) {
        found = { kind: "lines", last: lines[lines.length - 1] as Extract<Binding, { kind: "Bind" }> };
        return;
      }
      for (const b of e.bindings) if (b.kind === "Bind") visit(b.value);
      if (e.kind === "Let") visit(e.body);
      return;
    }
    if (e.kind === "Lambda") visit(e.body);
    else if (e.kind === "Binary") {
      visit(e.left);
      visit(e.right);
    } else if (e.kind === "Apply") {
      visit(e.fn);
      visit(e.arg);
    } else if (e.kind === "With") visit(e.body);
  };
  visit(body);
  return found;
}

function indentAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))?.[0] ?? "";
}

/**
 * flake.nix with the host's attribute added, or a UserError saying why not and what to add. `text`
 * is the file as latin1 (one character per byte), as the parser reads files.
 */
export function addFlakeEntry(
  text: string,
  spec: HostSpec,
  refsOf: (args: OutputsArgs) => InputRefs,
): string {
  const parsed = parseNix(text);
  if (!parsed.ast || parsed.errors.length)
    throw new UserError(
      `flake.nix does not parse: ${parsed.errors[0]?.message ?? "empty"}`,
      "fix flake.nix first (validate_syntax shows where)",
    );
  const args = outputsOf(parsed.ast);
  const refs = refsOf(args);
  const place = findPlace(args.body);
  if (!place)
    throw new UserError(
      "flake.nix builds nixosConfigurations in a way add_host does not edit (not an attribute set of hosts)",
      `add this attribute to nixosConfigurations yourself, then deploy:\n${renderFlakeEntry(spec, refs, "  ")}`,
    );
  if (place.kind === "set") {
    const { attrs } = place;
    const close = attrs.end - 1;
    const last = attrs.bindings.at(-1);
    const indent = last ? indentAt(text, last.start) : `${indentAt(text, attrs.start)}  `;
    const entry = renderFlakeEntry(spec, refs, indent);
    if (last) return `${text.slice(0, last.end)}\n${entry}${text.slice(last.end)}`;
    // An empty set, `{ }` or `{\n}`: the entry goes on its own lines inside it.
    const before = text.slice(0, close).replace(/[ \t]*$/, "");
    return `${before}${before.endsWith("\n") ? "" : "\n"}${entry}\n${indentAt(text, attrs.start)}${text.slice(close)}`;
  }
  const indent = indentAt(text, place.last.start);
  const entry = renderFlakeEntry(spec, refs, "").split("\n");
  const lines = [`nixosConfigurations.${entry[0]}`, ...entry.slice(1)].map((l) => `${indent}${l}`);
  return `${text.slice(0, place.last.end)}\n${lines.join("\n")}${text.slice(place.last.end)}`;
}
