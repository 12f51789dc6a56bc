/* The HTTP client: bearer auth, silent refresh (single-flight: the server's refresh tokens
 * rotate and a reused one revokes the whole session), RFC 9457 problems as ApiError.
 *
 * Tokens (issue #14): the access token lives in this object's memory only, never in storage
 * a script could read back; the refresh token is an httpOnly, SameSite=Strict cookie scoped to
 * /api/auth/session that no script can read at all. A reload restores the session from the
 * cookie. Refreshes of several tabs are serialised with a Web Lock, so two tabs never present
 * the same (rotating) refresh token, which the server would take for theft. */
import type { SessionToken } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;
  /** The problem's type URI (RFC 9457), when the server sent one. */
  readonly type: string | null;
  constructor(status: number, message: string, fields: Record<string, string> = {}, type: string | null = null) {
    super(message);
    this.status = status;
    this.fields = fields;
    this.type = type;
  }
}

export interface Session {
  accessToken: string;
  expiresAt: number; // epoch ms
  username: string;
  role: string;
}

const SESSION = "/api/auth/session";
// Refresh this long before the access token expires, so a request never races the expiry.
const REFRESH_MARGIN_MS = 30_000;

type Listener = (session: Session | null) => void;

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The session's mutable state, one object: a view of the client made by `forSubmission` reads
 * and writes the same session through it, so a refresh done through a view is the client's. */
interface State {
  session: Session | null;
  refreshing: Promise<Session | null> | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class ApiClient {
  private readonly state: State = { session: null, refreshing: null, timer: undefined };
  private readonly listeners = new Set<Listener>();

  constructor(private readonly base = "") {}

  get current(): Session | null {
    return this.state.session;
  }

  /** After a page load: the session the cookie still holds, if any. */
  restore(): Promise<Session | null> {
    return this.refresh();
  }

  onSession(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async login(username: string, password: string): Promise<Session> {
    const res = await fetch(`${this.base}${SESSION}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw await toError(res);
    return this.set((await res.json()) as SessionToken);
  }

  async logout(): Promise<void> {
    this.clear();
    await fetch(`${this.base}${SESSION}/logout`, {
      method: "POST",
      credentials: "same-origin",
    }).catch(() => undefined);
  }

  /** Change the signed-in user's password; the server ends every session, this one too. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.post("/api/auth/password", {
      current_password: currentPassword,
      new_password: newPassword,
    });
    this.clear();
  }

  /** A valid access token, refreshing first when it is about to expire. */
  async token(): Promise<string | null> {
    const s = this.state.session;
    if (!s) return null;
    if (s.expiresAt - Date.now() > REFRESH_MARGIN_MS) return s.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  refresh(): Promise<Session | null> {
    this.state.refreshing ??= this.doRefresh().finally(() => {
      this.state.refreshing = null;
    });
    return this.state.refreshing;
  }

  /** A JSON body, or a FormData (multipart: the browser sets its type and boundary); extra
   * headers such as `Idempotency-Key` go with every attempt, the retry after a refresh too. */
  async request<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const form = typeof FormData !== "undefined" && body instanceof FormData;
    const send = async (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined && !form) headers["Content-Type"] = "application/json";
      return fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? null : form ? body : JSON.stringify(body),
      });
    };
    const res = await this.authorized(send);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** A file the API serves (an attachment), fetched with the bearer token: for an `<img>` or a
   * link, as an object URL the caller revokes. */
  async blob(path: string): Promise<Blob> {
    const send = (token: string | null) =>
      fetch(`${this.base}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    return (await this.authorized(send)).blob();
  }

  private async authorized(send: (token: string | null) => Promise<Response>): Promise<Response> {
    let res = await send(await this.token());
    if (res.status === 401 && this.state.session) {
      discard(res);
      const renewed = await this.refresh();
      if (renewed) res = await send(renewed.accessToken);
    }
    if (!res.ok) throw await toError(res);
    return res;
  }

  /** This client for one form submission: every write sent through it carries an
   * `Idempotency-Key` made of `key` and the write's place in the submission (`key.1`, `key.2`…:
   * a submission that writes twice sends two different requests, and one key may name only one).
   * The server then acts once per write even if the request goes twice (the retry after a token
   * refresh, a proxy's resend). Session, refresh and listeners stay this client's. */
  forSubmission(key: string): ApiClient {
    let writes = 0;
    const view = Object.create(this) as ApiClient;
    view.request = <T>(method: string, path: string, body?: unknown, extraHeaders?: Record<string, string>) =>
      this.request<T>(
        method,
        path,
        body,
        WRITES.has(method) ? { "Idempotency-Key": `${key}.${String(++writes)}`, ...extraHeaders } : extraHeaders,
      );
    return view;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  /** A file the API serves (an .ics, a CSV): its body as a Blob, with the session's token. */
  async file(path: string): Promise<Blob> {
    const token = await this.token();
    const res = await fetch(`${this.base}${path}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    if (!res.ok) throw await toError(res);
    return res.blob();
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  private async doRefresh(): Promise<Session | null> {
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    // One tab at a time: each then presents the cookie the previous one's refresh set.
    if (locks) return locks.request("emsync-session-refresh", () => this.refreshOnce());
    return this.refreshOnce();
  }

  private async refreshOnce(): Promise<Session | null> {
    try {
      const res = await fetch(`${this.base}${SESSION}/refresh`, {
        method: "POST",
        credentials: "same-origin",
      });
      if (!res.ok) discard(res); // the problem body is not needed: release the connection
      if (res.status === 401 || res.status === 403 || res.status === 422) {
        this.clear(); // no session, revoked or expired: back to the login screen
        return null;
      }
      if (!res.ok) return this.state.session; // server trouble: keep the session, try again later
      return this.set((await res.json()) as SessionToken);
    } catch {
      return this.state.session; // offline: keep the session
    }
  }

  private set(token: SessionToken): Session {
    const session: Session = {
      accessToken: token.access_token,
      expiresAt: Date.now() + token.expires_in * 1000,
      username: token.username,
      role: token.role,
    };
    this.state.session = session;
    this.schedule();
    this.emit();
    return session;
  }

  private clear(): void {
    const had = this.state.session !== null;
    this.state.session = null;
    clearTimeout(this.state.timer);
    if (had) this.emit();
  }

  private schedule(): void {
    clearTimeout(this.state.timer);
    const s = this.state.session;
    if (!s) return;
    const wait = Math.max(1_000, s.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    this.state.timer = setTimeout(() => void this.refresh(), wait);
  }

  private emit(): void {
    for (const l of this.listeners) l(this.state.session);
  }
}

interface Problem {
  type?: string;
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
  return new ApiError(res.status, message, fields, problem.type ?? null);
}

/** Cancel a response body nobody reads: an unread body keeps its request open in the browser
 * (and in Playwright's network-idle accounting) until garbage collection. */
function discard(res: Response): void {
  // Not awaited: the caller's decision does not wait on the socket. A body already read or
  // closed rejects, which changes nothing.
  res.body?.cancel().catch(() => undefined);
}
