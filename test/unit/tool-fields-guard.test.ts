/**
 * The guard of test/support/tool-fields.ts: every input field of every tool is named there, with a
 * test that exists. A tool that gains a field fails here until a test proves the field does
 * something; a renamed or deleted test fails here until the list follows.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { tools } from "../../src/tools/index.js";
import { FIELD_TESTS } from "../support/tool-fields.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** The schema under optional(), default() and nullable(): what the field is. */
function unwrap(schema: z.ZodType): z.ZodType {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodNullable)
    inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** Field paths of an input shape; an object's own fields follow it (`commit`, `commit.issue`). */
function fieldsOf(shape: Record<string, z.ZodType>, prefix = ""): string[] {
  return Object.entries(shape).flatMap(([name, schema]) => {
    const inner = unwrap(schema);
    const path = `${prefix}${name}`;
    return inner instanceof z.ZodObject
      ? [path, ...fieldsOf(inner.shape as Record<string, z.ZodType>, `${path}.`)]
      : [path];
  });
}

describe("every tool input field has a test", () => {
  it("lists exactly the tools the server offers", () => {
    expect(Object.keys(FIELD_TESTS).sort()).toEqual(tools.map((t) => t.name).sort());
  });

  for (const tool of tools) {
    it(`${tool.name}: each field is named with a test, and each named field exists`, () => {
      const listed = FIELD_TESTS[tool.name] ?? {};
      const fields = fieldsOf(tool.input as Record<string, z.ZodType>);
      expect(
        fields.filter((f) => !(f in listed)),
        `fields of ${tool.name} with no test in test/support/tool-fields.ts`,
      ).toEqual([]);
      expect(
        Object.keys(listed).filter((f) => !fields.includes(f)),
        `fields listed for ${tool.name} that it no longer has`,
      ).toEqual([]);
    });
  }

  it("names only tests that exist", () => {
    const missing: string[] = [];
    for (const [tool, fields] of Object.entries(FIELD_TESTS)) {
      for (const [field, entries] of Object.entries(fields)) {
        for (const entry of [entries].flat()) {
          if (entry.startsWith("exempt: ")) continue;
          const [file = "", title = ""] = entry.split(" > ");
          const path = join(ROOT, file);
          // The title as a string literal in the file: the `it(...)` that proves the field.
          const quoted = [`"${title}"`, `'${title}'`, `\`${title}\``];
          const text = existsSync(path) ? readFileSync(path, "utf8") : "";
          if (!title || !quoted.some((q) => text.includes(q))) missing.push(`${tool}.${field}: ${entry}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("fails for a field without a test", () => {
    // The guard itself must be able to fail: a shape with an unlisted field is found.
    const shape = {
      hosts: z.array(z.string()).optional(),
      extra: z.object({ inner: z.boolean() }).optional(),
    };
    expect(fieldsOf(shape).filter((f) => !(f in (FIELD_TESTS.deploy ?? {})))).toEqual([
      "extra",
      "extra.inner",
    ]);
  });
});
