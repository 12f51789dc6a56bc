import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { ConnectionBanner } from "./ConnectionBanner";

afterEach(cleanup);

it("says plainly that it is reconnecting and that data may be out of date", () => {
  render(<ConnectionBanner state="reconnecting" />);
  const el = screen.getByRole("status");
  expect(el.textContent).toContain("reconnecting");
  expect(el.textContent).toContain("out of date");
  expect(el.className).toContain("conn-reconnecting");
});

it("says live when connected", () => {
  render(<ConnectionBanner state="open" />);
  expect(screen.getByRole("status").textContent).toBe("Live");
});

it("says offline, not live, when the browser has no network", () => {
  render(<ConnectionBanner state="offline" />);
  const el = screen.getByRole("status");
  expect(el.textContent).toContain("Offline");
  expect(el.textContent).not.toContain("Live");
  expect(el.className).toContain("conn-offline");
});
