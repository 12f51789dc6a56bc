import { cleanup, render, screen } from "@testing-library/react";
import { lazy } from "react";
import { afterEach, expect, it, vi } from "vitest";
import { ViewBoundary } from "./ViewBoundary";

afterEach(cleanup);

it("shows a screen whose bundle fails to load as an error with a reload, not a blank page", async () => {
  const quiet = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const Broken = lazy(() => Promise.reject(new Error("Failed to fetch dynamically imported module: /assets/Places.js")));
  render(
    <div>
      <nav>top bar</nav>
      <ViewBoundary where="/admin/places">
        <Broken />
      </ViewBoundary>
    </div>,
  );
  const alert = await screen.findByRole("alert");
  expect(alert.textContent).toContain("could not be shown");
  expect(alert.textContent).toContain("Failed to fetch dynamically imported module");
  expect(screen.getByRole("button", { name: "Reload" })).toBeTruthy();
  // The rest of the page (the top bar with the live status) stays.
  expect(screen.getByText("top bar")).toBeTruthy();
  quiet.mockRestore();
});

it("clears the failure when another screen is chosen", async () => {
  const quiet = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const Broken = lazy(() => Promise.reject(new Error("offline")));
  const { rerender } = render(
    <ViewBoundary where="/a">
      <Broken />
    </ViewBoundary>,
  );
  await screen.findByRole("alert");
  rerender(
    <ViewBoundary where="/b">
      <p>the other screen</p>
    </ViewBoundary>,
  );
  expect(screen.queryByRole("alert")).toBeNull();
  expect(screen.getByText("the other screen")).toBeTruthy();
  quiet.mockRestore();
});

it("says it is loading while a screen's bundle is on its way", () => {
  const Pending = lazy(() => new Promise<{ default: () => null }>(() => undefined));
  render(
    <ViewBoundary where="/a">
      <Pending />
    </ViewBoundary>,
  );
  expect(screen.getByRole("status").textContent).toBe("Loading…");
});
