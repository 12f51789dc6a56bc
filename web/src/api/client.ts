/* The HTTP client: bearer auth, silent refresh (single-flight: the server's refresh tokens
 * rotate and a reused one revokes the whole session), RFC 9457 problems as ApiError. */
import type { TokenPair } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;
  constructor(status: number, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // epoch ms
  username: string;
  role: string;
}

const STORAGE_KEY = "emsync.session";
// Refresh this long before the access token expires, so a request never races the expiry.
const REFRESH_MARGIN_MS = 30_000;

type Listener = (session: Session | null) => void;

export class ApiClient {
  private session: Session | null;
  private refreshing: Promise<Session | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly base = "",
    private readonly storage: Storage | null = typeof sessionStorage === "undefined"
      ? null
      : sessionStorage,
  ) {
    this.session = this.load();
    this.schedule();
  }

  get current(): Session | null {
    return this.session;
  }

  onSession(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async login(username: string, password: string): Promise<Session> {
    const body = new URLSearchParams({ username, password, grant_type: "password" });
    const res = await fetch(`${this.base}/api/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
    if (!res.ok) throw await toError(res);
    const session = this.set((await res.json()) as TokenPair);
    return session;
  }

  async logout(): Promise<void> {
    const session = this.session;
    this.clear();
    if (session) {
      await fetch(`${this.base}/api/auth/logout`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: session.refreshToken }),
      }).catch(() => undefined);
    }
  }

  /** A valid access token, refreshing first when it is about to expire. */
  async token(): Promise<string | null> {
    const s = this.session;
    if (!s) return null;
    if (s.expiresAt - Date.now() > REFRESH_MARGIN_MS) return s.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  refresh(): Promise<Session | null> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const send = async (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = { Accept: "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    };
    let res = await send(await this.token());
    if (res.status === 401 && this.session) {
      const renewed = await this.refresh();
      if (renewed) res = await send(renewed.accessToken);
    }
    if (!res.ok) throw await toError(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }

  private async doRefresh(): Promise<Session | null> {
    const s = this.session;
    if (!s) return null;
    try {
      const res = await fetch(`${this.base}/api/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: s.refreshToken }),
      });
      if (res.status === 401 || res.status === 422) {
        this.clear(); // revoked or expired: back to the login screen
        return null;
      }
      if (!res.ok) return null; // server trouble: keep the session, try again later
      return this.set((await res.json()) as TokenPair);
    } catch {
      return null; // offline: keep the session
    }
  }

  private set(pair: TokenPair): Session {
    const session: Session = {
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      expiresAt: Date.now() + pair.expires_in * 1000,
      username: pair.username,
      role: pair.role,
    };
    this.session = session;
    this.storage?.setItem(STORAGE_KEY, JSON.stringify(session));
    this.schedule();
    this.emit();
    return session;
  }

  private clear(): void {
    this.session = null;
    this.storage?.removeItem(STORAGE_KEY);
    clearTimeout(this.timer);
    this.emit();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const s = this.session;
    if (!s) return;
    const wait = Math.max(1_000, s.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    this.timer = setTimeout(() => void this.refresh(), wait);
  }

  private emit(): void {
    for (const l of this.listeners) l(this.session);
  }

  private load(): Session | null {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      return raw ? (JSON.parse(raw) as Session) : null;
    } catch {
      return null;
    }
  }
}

interface Problem {
  title?: string;
  detail?: string;
  errors?: { loc?: (string | number)[]; field?: string; msg?: string; message?: string }[];
}

async function toError(res: Response): Promise<ApiError> {
  let problem: Problem = {};
  try {
    problem = (await res.json()) as Problem;
  } catch {
    /* not JSON */
  }
  const fields: Record<string, string> = {};
  for (const e of problem.errors ?? []) {
    const key = e.field ?? (e.loc ?? []).filter((p) => p !== "body").join(".");
    fields[key] = e.msg ?? e.message ?? "invalid";
  }
  const message = problem.detail ?? problem.title ?? `${res.status} ${res.statusText}`;
  return new ApiError(res.status, message, fields);
}
