import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean; engines?: { node?: string } }>;
};

type Version = [number, number, number];

/** "20", "20.5", "20.5.0", "10.x" as [major, minor, patch]; a missing or x part is 0. */
function version(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text
    .replace(/^v/, "")
    .split(".")
    .map((part) => (/^\d+$/.test(part) ? Number(part) : 0));
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Whether a node engines range (the forms npm packages use: `>=18`, `>= 0.8`, `^18.19.0 || >=20.5.0`,
 * `>=14 <16`) admits a version. Written here because semver is no dependency of ours; a form it
 * does not know fails the test rather than passing silently.
 */
function satisfies(v: Version, range: string): boolean {
  return range.split("||").some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, "$1")
      .split(/\s+/);
    return comparators.every((comparator) => {
      const match = /^(>=|<=|>|<|\^|~|=)?(\d+(?:\.(?:\d+|x)){0,2})$/.exec(comparator);
      if (!match) throw new Error(`unknown engines range "${range}"`);
      const bound = version(match[2] as string);
      const order = compare(v, bound);
      switch (match[1]) {
        case ">=":
          return order >= 0;
        case ">":
          return order > 0;
        case "<=":
          return order <= 0;
        case "<":
          return order < 0;
        case "^":
          return order >= 0 && v[0] === bound[0];
        case "~":
          return order >= 0 && v[0] === bound[0] && v[1] === bound[1];
        default:
          // A bare version: equal, where the parts given are compared (`20` means any 20.x).
          return match[2]?.split(".").every((part, i) => part === "x" || Number(part) === v[i]) ?? false;
      }
    });
  });
}

describe("the package's Node version", () => {
  const oldest = version(/^>=\s*(\S+)$/.exec(pkg.engines.node)?.[1] ?? "");

  it("is one lower bound that the Node running these tests meets", () => {
    expect(pkg.engines.node).toMatch(/^>=\s*\d+(\.\d+){0,2}$/);
    expect(satisfies(version(process.versions.node), pkg.engines.node)).toBe(true);
  });

  // Every package npm installs, the development tools too: npm warns (EBADENGINE) on `npm ci` for
  // any package that refuses the running Node. The published package holds only the bundle, whose
  // code comes from these same packages.
  it("is accepted by every package of the lock (no engine warning on npm ci)", () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== "" && entry.engines?.node)
      .filter(([, entry]) => !satisfies(oldest, entry.engines?.node as string))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, "")} wants node ${entry.engines?.node}`);
    expect(refusing, `engines says node ${pkg.engines.node}`).toEqual([]);
  });

  it("reads ranges as npm does", () => {
    expect(satisfies([20, 5, 0], "^18.19.0 || >=20.5.0")).toBe(true);
    expect(satisfies([20, 4, 9], "^18.19.0 || >=20.5.0")).toBe(false);
    expect(satisfies([20, 5, 0], ">=22")).toBe(false);
    expect(satisfies([20, 5, 0], ">= 10.x")).toBe(true);
    expect(satisfies([20, 5, 0], ">=14 <16")).toBe(false);
  });
});
