/// <reference types="node" />
// @vitest-environment node
/* Every `pattern="…"` of an input in the views compiles as the browser compiles it: HTML compiles
 * the attribute with the RegExp `v` flag, where a character class's literal "-" (and some other
 * punctuation) must be escaped. A pattern that does not compile is not an error the user sees:
 * the browser logs it and checks nothing (the inventory's SKU field did that). */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const src = fileURLToPath(new URL("..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".tsx") ? [path] : [];
  });
}

const found = sources(src).flatMap((path) =>
  Array.from(readFileSync(path, "utf8").matchAll(/\bpattern="([^"]*)"/g), (m) => ({ path, pattern: m[1] ?? "" })),
);

it("finds the patterns it checks", () => {
  expect(found.length).toBeGreaterThanOrEqual(4);
});

it.each(found)("$pattern ($path) compiles with the v flag", ({ pattern }) => {
  expect(() => new RegExp(`^(?:${pattern})$`, "v")).not.toThrow();
});

it("rejects what the browser rejects", () => {
  const unescaped = "[A-Za-z0-9._-]+"; // the SKU field's pattern before its fix
  expect(() => new RegExp(`^(?:${unescaped})$`, "v")).toThrow();
});
