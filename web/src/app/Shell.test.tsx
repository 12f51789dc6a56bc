import { act, cleanup, render, screen } from "@testing-library/react";
import { BrowserRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Me } from "../api/types";
import { AppProvider, useApp } from "./context";
import { Shell } from "./Shell";

const ME: Me = {
  id: "u-1",
  kind: "user",
  name: "ed.nurse",
  role: "clinician",
  hospital_id: "h-1",
  permissions: ["intake:read"],
};

/** A socket that never connects: the live link plays no part here. */
class QuietSocket {
  readyState = 0;
  onopen = null;
  onclose = null;
  onmessage = null;
  onerror = null;
  send(): void {}
  close(): void {}
}

type Answer = { status: number; body: unknown };
let meAnswers: Array<Promise<Answer>>;
let meCalls: number;

function json({ status, body }: Answer): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeEach(() => {
  window.history.replaceState(null, "", "/beds");
  meCalls = 0;
  meAnswers = [];
  vi.stubGlobal("WebSocket", QuietSocket);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url.endsWith("/api/auth/session/refresh")) {
        return json({
          status: 200,
          body: { access_token: "t", expires_in: 900, role: "clinician", username: "ed.nurse" },
        });
      }
      if (url.endsWith("/api/auth/me")) {
        const answer = meAnswers[meCalls++];
        if (!answer) throw new Error("unexpected /api/auth/me");
        return json(await answer);
      }
      throw new Error(`unexpected ${url}`);
    }),
  );
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

/** A screen that notes what it saw of the person when it mounted. */
const seenAtMount: Array<string | null> = [];
function Screen() {
  const { me } = useApp();
  if (seenAtMount.length === 0) seenAtMount.push(me?.hospital_id ?? null);
  return <p>the bed board of {me?.hospital_id}</p>;
}

function deferred(): { promise: Promise<Answer>; resolve: (a: Answer) => void } {
  const settle: Array<(a: Answer) => void> = [];
  const promise = new Promise<Answer>((r) => settle.push(r));
  return { promise, resolve: (a) => settle.forEach((r) => r(a)) };
}

function renderShell() {
  render(
    <BrowserRouter>
      <AppProvider>
        <Routes>
          <Route element={<Shell />}>
            <Route path="beds" element={<Screen />} />
          </Route>
        </Routes>
      </AppProvider>
    </BrowserRouter>,
  );
}

it("opens a screen only once the person's account has loaded", async () => {
  seenAtMount.length = 0;
  const me = deferred();
  meAnswers.push(me.promise);
  renderShell();
  expect(await screen.findByText("Loading your account…")).toBeTruthy();
  expect(screen.queryByText(/the bed board/)).toBeNull();
  await act(() => {
    me.resolve({ status: 200, body: ME });
    return Promise.resolve();
  });
  expect(await screen.findByText("the bed board of h-1")).toBeTruthy();
  expect(seenAtMount).toEqual(["h-1"]);
  expect(screen.queryByText("Loading your account…")).toBeNull();
});

it("says when the account cannot be loaded, and tries again when asked", async () => {
  meAnswers.push(Promise.resolve({ status: 503, body: { title: "Service Unavailable", detail: "database down" } }));
  meAnswers.push(Promise.resolve({ status: 200, body: ME }));
  renderShell();
  const alert = await screen.findByRole("alert");
  expect(alert.textContent).toContain("Your account could not be loaded");
  expect(screen.queryByText(/the bed board/)).toBeNull();
  await act(() => {
    screen.getByRole("button", { name: "Try again" }).click();
    return Promise.resolve();
  });
  expect(await screen.findByText("the bed board of h-1")).toBeTruthy();
  expect(meCalls).toBe(2);
});
