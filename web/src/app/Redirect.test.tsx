import { act, cleanup, render, screen } from "@testing-library/react";
import { lazy, Suspense, type ComponentType } from "react";
import { BrowserRouter, Link, Navigate, Outlet, Route, Routes, useLocation } from "react-router-dom";
import { afterEach, beforeEach, expect, it } from "vitest";
import { Redirect } from "./Redirect";

afterEach(cleanup);
beforeEach(() => window.history.replaceState(null, "", "/admin"));

function Where() {
  return <output data-testid="where">{useLocation().pathname}</output>;
}

/** /admin redirects to its first tab, whose bundle arrives only when `release` is called; the
 * Admin link is clicked again while the redirect is still waiting for that bundle. */
async function adminLinkClickedWhileTheTabLoads(index: ComponentType): Promise<void> {
  let release = (): void => undefined;
  const Places = lazy(
    () =>
      new Promise<{ default: ComponentType }>((resolve) => {
        release = () => resolve({ default: () => <p>the places tab</p> });
      }),
  );
  const Index = index;
  render(
    <BrowserRouter>
      <Link to="/admin">Admin</Link>
      <Where />
      <Suspense fallback={<p>Loading…</p>}>
        <Routes>
          <Route path="admin" element={<Outlet />}>
            <Route index element={<Index />} />
            <Route path="places" element={<Places />} />
          </Route>
        </Routes>
      </Suspense>
    </BrowserRouter>,
  );
  // The redirect has asked for the tab; its bundle is on its way, so /admin is still shown.
  await act(() => Promise.resolve());
  expect(window.location.pathname).toBe("/admin/places");
  expect(screen.getByTestId("where").textContent).toBe("/admin");
  await act(() => {
    screen.getByRole("link", { name: "Admin" }).click();
    return Promise.resolve();
  });
  await act(() => {
    release();
    return Promise.resolve();
  });
}

it("redirects on every arrival, also one that supersedes its own redirect still loading", async () => {
  await adminLinkClickedWhileTheTabLoads(() => <Redirect to="/admin/places" />);
  expect(await screen.findByText("the places tab")).toBeTruthy();
  expect(window.location.pathname).toBe("/admin/places");
});

it("pins the race: a bare Navigate stays on the empty index route", async () => {
  // If this starts failing, the router redirects again by itself and Redirect can go.
  await adminLinkClickedWhileTheTabLoads(() => <Navigate to="/admin/places" replace />);
  expect(screen.queryByText("the places tab")).toBeNull();
  expect(window.location.pathname).toBe("/admin");
  expect(screen.getByTestId("where").textContent).toBe("/admin");
});
