import { afterEach, expect, it, vi } from "vitest";
import { ApiClient } from "./client";

afterEach(() => vi.unstubAllGlobals());

const token = (n: number, expiresIn = 900) => ({
  access_token: `a${n}`,
  token_type: "bearer",
  expires_in: expiresIn,
  role: "dispatcher",
  username: "d",
});

it("refreshes once for concurrent 401s (a reused refresh token would revoke the session)", async () => {
  const calls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string, init?: RequestInit) => {
      calls.push(url);
      if (url.endsWith("/api/auth/session")) return Promise.resolve(Response.json(token(1)));
      if (url.endsWith("/api/auth/session/refresh")) return Promise.resolve(Response.json(token(2)));
      const auth = new Headers(init?.headers).get("Authorization");
      return Promise.resolve(
        auth === "Bearer a2" ? Response.json({ ok: true }) : new Response(null, { status: 401 }),
      );
    }),
  );
  const api = new ApiClient("");
  await api.login("d", "pw");
  const results = await Promise.all([api.get("/api/x"), api.get("/api/y"), api.get("/api/z")]);
  expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
  expect(calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
  expect(api.current?.accessToken).toBe("a2");
});

it("keeps no token where a script could read it back, and sends the cookie on refresh", async () => {
  const inits: RequestInit[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((_url: string, init?: RequestInit) => {
      inits.push(init ?? {});
      return Promise.resolve(Response.json(token(1)));
    }),
  );
  sessionStorage.clear();
  localStorage.clear();
  const api = new ApiClient("");
  await api.login("d", "a-long-password-for-d");
  await api.refresh();
  expect(sessionStorage.length).toBe(0);
  expect(localStorage.length).toBe(0);
  expect(document.cookie).toBe("");
  expect(inits.every((i) => i.credentials === "same-origin")).toBe(true);
  expect(JSON.stringify(inits.map((i) => i.body ?? null))).not.toContain("refresh_token");
});

it("restores the session from the cookie after a reload, or shows the login", async () => {
  vi.stubGlobal(
    "fetch",
    vi.fn(() => Promise.resolve(new Response(null, { status: 401 }))),
  );
  expect(await new ApiClient("").restore()).toBeNull();
  vi.stubGlobal(
    "fetch",
    vi.fn(() => Promise.resolve(Response.json(token(7)))),
  );
  const api = new ApiClient("");
  expect((await api.restore())?.accessToken).toBe("a7");
});

it("logs out when the refresh token is refused", async () => {
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string) =>
      Promise.resolve(
        url.endsWith("/api/auth/session") ? Response.json(token(1)) : new Response(null, { status: 401 }),
      ),
    ),
  );
  const api = new ApiClient("");
  const seen: unknown[] = [];
  api.onSession((s) => seen.push(s));
  await api.login("d", "pw");
  await expect(api.get("/api/x")).rejects.toMatchObject({ status: 401 });
  expect(api.current).toBeNull();
  expect(seen[seen.length - 1]).toBeNull();
});
