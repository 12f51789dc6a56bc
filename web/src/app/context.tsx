import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from "react";
import { ApiClient, ApiError, type Session } from "../api/client";
import { Realtime, type ConnectionState, type ServerMessage } from "../api/realtime";
import type { Me } from "../api/types";

interface AppContextValue {
  api: ApiClient;
  realtime: Realtime;
  /** False until the page has asked the server whether its session cookie still holds. */
  restored: boolean;
  session: Session | null;
  /** The signed-in person (`/api/auth/me`); null until it has loaded. */
  me: Me | null;
  /** Why `/api/auth/me` could not be read (null while it loads or once it has). */
  meError: string | null;
  /** Asks for `/api/auth/me` again after it failed. */
  reloadMe: () => void;
  can: (perm: string) => boolean;
}

const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error("useApp outside <AppProvider>");
  return ctx;
}

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/ws`;
}

export function AppProvider({ children }: { children: ReactNode }) {
  const api = useMemo(() => new ApiClient(), []);
  const realtime = useMemo(
    () =>
      new Realtime({
        url: wsUrl(),
        token: () => api.token(),
        onAuthRejected: () => api.refresh(),
      }),
    [api],
  );
  const [session, setSession] = useState<Session | null>(api.current);
  const [restored, setRestored] = useState(false);
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<string | null>(null);
  const [meAttempt, setMeAttempt] = useState(0);
  const reloadMe = useCallback(() => {
    setMeError(null);
    setMeAttempt((n) => n + 1);
  }, []);

  useEffect(() => api.onSession(setSession), [api]);
  useEffect(() => {
    let live = true;
    void api.restore().finally(() => {
      if (live) setRestored(true);
    });
    return () => {
      live = false;
    };
  }, [api]);
  // A renewed access token extends the live connection instead of reconnecting it.
  useEffect(
    () =>
      api.onSession((s) => {
        if (s) realtime.renew(s.accessToken);
      }),
    [api, realtime],
  );

  const loggedIn = session !== null;
  useEffect(() => {
    if (!loggedIn) {
      setMe(null);
      setMeError(null);
      return;
    }
    let live = true;
    api.get<Me>("/api/auth/me").then(
      (m) => {
        if (live) setMe(m);
      },
      (err: unknown) => {
        // The screens wait for the account (Shell), so a failure must say so, not load forever.
        if (live) setMeError(err instanceof ApiError ? err.message : "the server could not be reached");
      },
    );
    return () => {
      live = false;
    };
  }, [api, loggedIn, meAttempt]);
  useEffect(() => {
    if (loggedIn) realtime.start();
    else realtime.stop();
  }, [realtime, loggedIn]);

  const can = useCallback((perm: string) => me?.permissions.includes(perm) ?? false, [me]);
  const value = useMemo(
    () => ({ api, realtime, restored, session, me, meError, reloadMe, can }),
    [api, realtime, restored, session, me, meError, reloadMe, can],
  );
  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}

/** Calls `handler` for every message on `channel` while mounted (null: no subscription). */
export function useChannel(channel: string | null, handler: (msg: ServerMessage) => void): void {
  const { realtime } = useApp();
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => {
    if (!channel) return;
    return realtime.subscribe(channel, (m) => ref.current(m));
  }, [realtime, channel]);
}

/** Calls `refetch` after a reconnect or a gap in any of `channels` (null: any channel). */
export function useResync(refetch: () => void, channels?: string[]): void {
  const { realtime } = useApp();
  const ref = useRef(refetch);
  useEffect(() => {
    ref.current = refetch;
  });
  const key = channels?.join("|") ?? "";
  useEffect(
    () =>
      realtime.onResync((channel) => {
        if (channel === null || key === "" || key.split("|").includes(channel)) ref.current();
      }),
    [realtime, key],
  );
  // Named channels only: a view's own subscription confirmed, what it loaded may miss what was
  // pushed before (Realtime.onSubscribed). A view listening to every channel's gaps would
  // reload on every other view's subscription.
  useEffect(() => {
    if (key === "") return;
    const names = key.split("|");
    return realtime.onSubscribed((channel) => {
      if (names.includes(channel)) ref.current();
    });
  }, [realtime, key]);
}

export function useConnectionState(): ConnectionState {
  const { realtime } = useApp();
  const [state, setState] = useState(realtime.state);
  useEffect(() => {
    setState(realtime.state);
    return realtime.onState(setState);
  }, [realtime]);
  return state;
}

/** The current time, re-rendering every `intervalMs`. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
