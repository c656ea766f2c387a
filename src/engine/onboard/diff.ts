/**
 * A unified diff of one file, as `git diff` shows it, for showing a change before it is written.
 * The changes shown here insert or replace one stretch of a file (a new file, an attribute added to
 * flake.nix, an entry added to the inventory), so the diff is one hunk: the lines before and after
 * the stretch are matched from both ends, with three lines of context. Linear in the file's size.
 */
const CONTEXT = 3;

function lines(text: string): string[] {
  if (text === "") return [];
  const split = text.split("\n");
  if (split.at(-1) === "") split.pop();
  return split;
}

export function unifiedDiff(path: string, before: string | undefined, after: string): string {
  const a = lines(before ?? "");
  const b = lines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  if (head === a.length && head === b.length) return "";
  const start = Math.max(0, head - CONTEXT);
  const aEnd = Math.min(a.length, a.length - tail + CONTEXT);
  const bEnd = Math.min(b.length, b.length - tail + CONTEXT);
  const range = (from: number, count: number) => `${count === 0 ? from : from + 1},${count}`;
  const out = [
    `--- ${before === undefined ? "/dev/null" : `a/${path}`}`,
    `+++ b/${path}`,
    `@@ -${range(start, aEnd - start)} +${range(start, bEnd - start)} @@`,
    ...a.slice(start, head).map((l) => ` ${l}`),
    ...a.slice(head, a.length - tail).map((l) => `-${l}`),
    ...b.slice(head, b.length - tail).map((l) => `+${l}`),
    ...a.slice(a.length - tail, aEnd).map((l) => ` ${l}`),
  ];
  return `${out.join("\n")}\n`;
}
