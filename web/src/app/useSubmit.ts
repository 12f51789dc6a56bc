/* One submission at a time (issue: a dispatcher's double click created two incidents). A form or
 * a state-changing button runs its request through `run`: a second call while the first is in
 * flight does nothing, `busy` disables the button and marks the form `aria-busy`, and both clear
 * again however the request ends (the view keeps its own error message). Each run gets its own
 * Idempotency-Key, so the server too acts once on a request that goes twice. */
import { useCallback, useRef, useState } from "react";
import type { ApiClient } from "../api/client";
import { useApp } from "./context";

export interface Submit {
  /** True while a run is in flight. */
  busy: boolean;
  /** Runs `work` with a client whose writes carry this run's Idempotency-Keys; while an earlier
   * run is in flight it returns undefined without calling `work`. An error `work` throws is
   * thrown on, after `busy` has cleared. */
  run: <T>(work: (api: ApiClient) => Promise<T>) => Promise<T | undefined>;
}

export function useSubmit(): Submit {
  return useSubmitWith(useApp().api);
}

export function useSubmitWith(api: ApiClient): Submit {
  // A ref, not the state: two clicks in one frame both see the state before either re-render.
  const inFlight = useRef(false);
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <T,>(work: (api: ApiClient) => Promise<T>): Promise<T | undefined> => {
      if (inFlight.current) return undefined;
      inFlight.current = true;
      setBusy(true);
      try {
        return await work(api.forSubmission(newKey()));
      } finally {
        inFlight.current = false;
        setBusy(false);
      }
    },
    [api],
  );
  return { busy, run };
}

/** Random enough that two submissions never share a key (crypto.randomUUID needs a secure
 * context; getRandomValues does not). */
function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface Action {
  busy: boolean;
  /** Runs `work` as one submission; on success says `done` and reloads the view, on failure
   * says what `describe` makes of the error. */
  act: (work: (api: ApiClient) => Promise<unknown>, done: string) => Promise<void>;
}

/** A view of small actions (a bed board, a clinic's slots): each one submission of `submit`
 * (useSubmit()), then the view's message and its reload. Not itself a hook: it holds no state. */
export function actions(
  { busy, run }: Submit,
  reload: () => Promise<void>,
  say: (message: string) => void,
  describe: (err: unknown) => string,
): Action {
  const act = async (work: (api: ApiClient) => Promise<unknown>, done: string): Promise<void> => {
    await run(async (api) => {
      try {
        await work(api);
        say(done);
        await reload();
      } catch (err) {
        say(describe(err));
      }
    });
  };
  return { busy, act };
}
