import { expect, it } from "vitest";
import { NAV, currentEntry } from "./Shell";

it("marks the most specific menu entry a path lies under, and only that one", () => {
  expect(currentEntry("/intake/health", NAV)).toBe("/intake/health");
  expect(currentEntry("/intake", NAV)).toBe("/intake");
  expect(currentEntry("/intake/3f2c-session", NAV)).toBe("/intake");
  expect(currentEntry("/admin/places", NAV)).toBe("/admin");
  // A path that only shares a prefix is not under the entry.
  expect(currentEntry("/intakes", NAV)).toBeUndefined();
  expect(currentEntry("/account/password", NAV)).toBeUndefined();
});
