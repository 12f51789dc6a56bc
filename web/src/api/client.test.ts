import { afterEach, expect, it, vi } from "vitest";
import { ApiClient } from "./client";

afterEach(() => vi.unstubAllGlobals());

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: () => null,
    get length() {
      return m.size;
    },
  };
}

const pair = (n: number, expiresIn = 900) => ({
  access_token: `a${n}`,
  refresh_token: `refresh-token-${n}`,
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
      if (url.endsWith("/api/auth/token")) return Promise.resolve(Response.json(pair(1)));
      if (url.endsWith("/api/auth/refresh")) return Promise.resolve(Response.json(pair(2)));
      const auth = new Headers(init?.headers).get("Authorization");
      return Promise.resolve(
        auth === "Bearer a2" ? Response.json({ ok: true }) : new Response(null, { status: 401 }),
      );
    }),
  );
  const api = new ApiClient("", memoryStorage());
  await api.login("d", "pw");
  const results = await Promise.all([api.get("/api/x"), api.get("/api/y"), api.get("/api/z")]);
  expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
  expect(calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
  expect(api.current?.accessToken).toBe("a2");
});

it("logs out when the refresh token is refused", async () => {
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string) =>
      Promise.resolve(
        url.endsWith("/api/auth/token") ? Response.json(pair(1)) : new Response(null, { status: 401 }),
      ),
    ),
  );
  const api = new ApiClient("", memoryStorage());
  const seen: unknown[] = [];
  api.onSession((s) => seen.push(s));
  await api.login("d", "pw");
  await expect(api.get("/api/x")).rejects.toMatchObject({ status: 401 });
  expect(api.current).toBeNull();
  expect(seen[seen.length - 1]).toBeNull();
});
