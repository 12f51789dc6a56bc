import { act, renderHook } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { actions, useSubmitWith } from "./useSubmit";

afterEach(() => vi.unstubAllGlobals());

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

it("ignores a second run while the first is in flight, and is busy only meanwhile", async () => {
  const { result } = renderHook(() => useSubmitWith(new ApiClient("")));
  const first = deferred<string>();
  const work = vi.fn(() => first.promise);
  let a: Promise<string | undefined> | undefined;
  let b: Promise<string | undefined> | undefined;
  act(() => {
    a = result.current.run(work);
    b = result.current.run(work); // the double click, before any re-render
  });
  expect(result.current.busy).toBe(true);
  await act(async () => {
    expect(await b).toBeUndefined();
  });
  expect(work).toHaveBeenCalledTimes(1);
  expect(result.current.busy).toBe(true);
  await act(async () => {
    first.resolve("created");
    expect(await a).toBe("created");
  });
  expect(result.current.busy).toBe(false);
  // Done: the next submission runs.
  await act(async () => {
    expect(await result.current.run(() => Promise.resolve("again"))).toBe("again");
  });
  expect(work).toHaveBeenCalledTimes(1);
});

it("clears busy when the work fails and passes the error on, so the view can show it", async () => {
  const { result } = renderHook(() => useSubmitWith(new ApiClient("")));
  const failing = deferred<never>();
  let a: Promise<unknown> | undefined;
  act(() => {
    a = result.current.run(() => failing.promise);
  });
  expect(result.current.busy).toBe(true);
  await act(async () => {
    failing.reject(new Error("refused"));
    await expect(a).rejects.toThrow("refused");
  });
  expect(result.current.busy).toBe(false);
  const again = vi.fn(() => Promise.resolve(1));
  await act(async () => {
    await result.current.run(again);
  });
  expect(again).toHaveBeenCalledTimes(1);
});

it("gives each run its own Idempotency-Key, one per write of the run, and none to reads", async () => {
  const sent: { method: string; key: string | null }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((_url: string, init?: RequestInit) => {
      sent.push({ method: init?.method ?? "GET", key: new Headers(init?.headers).get("Idempotency-Key") });
      return Promise.resolve(Response.json({}));
    }),
  );
  const { result } = renderHook(() => useSubmitWith(new ApiClient("")));
  await act(async () => {
    await result.current.run(async (api) => {
      await api.post("/api/a", {});
      await api.get("/api/b");
      await api.patch("/api/c", {});
    });
  });
  await act(async () => {
    await result.current.run((api) => api.post("/api/a", {}));
  });
  const [one, read, two, next] = sent;
  expect(read?.key).toBeNull();
  expect(one?.key).toMatch(/^[0-9a-f]{32}\.1$/);
  expect(two?.key).toBe(one?.key?.replace(/\.1$/, ".2"));
  expect(next?.key).toMatch(/\.1$/);
  expect(next?.key).not.toBe(one?.key);
});

it("an action says done and reloads on success, and says the described error on failure", async () => {
  const { result } = renderHook(() => useSubmitWith(new ApiClient("")));
  const said: string[] = [];
  const reload = vi.fn(() => Promise.resolve());
  const { act: run } = actions(result.current, reload, (m) => said.push(m), (e) => `refused: ${String(e)}`);
  await act(async () => {
    await run(() => Promise.resolve(), "Bed added.");
  });
  expect(said).toEqual(["Bed added."]);
  expect(reload).toHaveBeenCalledTimes(1);
  await act(async () => {
    await run(() => Promise.reject(new Error("full")), "Bed added.");
  });
  expect(said).toEqual(["Bed added.", "refused: Error: full"]);
  expect(reload).toHaveBeenCalledTimes(1); // a refusal changes nothing to reload
});
