/* The live bridge: one WebSocket to `/ws` (DESIGN §3.2), shared by every view.
 * A dropped connection reconnects with exponential backoff and jitter; after a reconnect, or
 * when a channel's `seq` skips, listeners are told to refetch what they may have missed.
 * The state says what is true: a socket can stay "open" while nothing gets through (the
 * browser went offline, a proxy dropped the connection silently), so the browser's offline
 * event ends it at once, and a heartbeat ping that goes unanswered ends it too. */

export type ConnectionState = "connecting" | "open" | "reconnecting" | "offline" | "closed";

/** The browser's network status (window in the app; a fake in tests). */
export interface NetworkLike {
  readonly onLine: boolean;
  addEventListener(type: "online" | "offline", listener: () => void): void;
  removeEventListener(type: "online" | "offline", listener: () => void): void;
}

export interface ServerMessage {
  channel: string;
  type: string;
  data: unknown;
  seq: number;
}

export interface SocketLike {
  readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

export interface RealtimeOptions {
  url: string;
  token: () => Promise<string | null>;
  /** Called when the server refused the token, before the next attempt. */
  onAuthRejected?: () => Promise<unknown>;
  createSocket?: (url: string, protocols: string[]) => SocketLike;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  /** Where the online/offline events come from; null: never offline (no browser). */
  network?: NetworkLike | null;
  /** A ping this often while open; no message at all for twice as long ends the socket. */
  heartbeatMs?: number;
}

function browserNetwork(): NetworkLike | null {
  return typeof window === "undefined" || typeof navigator === "undefined"
    ? null
    : {
        get onLine() {
          return navigator.onLine;
        },
        addEventListener: (type, listener) => window.addEventListener(type, listener),
        removeEventListener: (type, listener) => window.removeEventListener(type, listener),
      };
}

type Handler = (msg: ServerMessage) => void;

export function backoffDelay(attempt: number, base: number, max: number, random: number): number {
  const ceiling = Math.min(max, base * 2 ** attempt);
  return Math.round(ceiling / 2 + (ceiling / 2) * random); // "equal jitter"
}

export class Realtime {
  private socket: SocketLike | null = null;
  private stateValue: ConnectionState = "closed";
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private everOpened = false;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly lastSeq = new Map<string, number>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private readonly resyncListeners = new Set<(channel: string | null) => void>();
  private readonly subscribedListeners = new Set<(channel: string) => void>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private readonly opts: Required<Omit<RealtimeOptions, "onAuthRejected">> &
    Pick<RealtimeOptions, "onAuthRejected">;
  private readonly goneOffline = () => this.wentOffline();
  private readonly backOnline = () => this.cameBackOnline();

  constructor(options: RealtimeOptions) {
    this.opts = {
      createSocket: (url, protocols) => new WebSocket(url, protocols),
      baseDelayMs: 500,
      maxDelayMs: 15_000,
      random: Math.random,
      network: browserNetwork(),
      heartbeatMs: 15_000,
      ...options,
    };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.everOpened = false;
    this.opts.network?.addEventListener("offline", this.goneOffline);
    this.opts.network?.addEventListener("online", this.backOnline);
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.opts.network?.removeEventListener("offline", this.goneOffline);
    this.opts.network?.removeEventListener("online", this.backOnline);
    this.drop();
    this.setState("closed");
  }

  /** Hand the server a renewed token: the session continues past the old token's expiry. */
  renew(token: string): void {
    this.send({ op: "auth", token });
  }

  /** Listen to a channel (subscribing on the server); returns the unsubscribe function. */
  subscribe(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      this.send({ op: "subscribe", channels: [channel] });
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(channel);
      current?.delete(handler);
      if (current?.size === 0) {
        this.handlers.delete(channel);
        this.lastSeq.delete(channel);
        this.send({ op: "unsubscribe", channels: [channel] });
      }
    };
  }

  onState(listener: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** `channel` null after a reconnect (refetch everything), else the channel that skipped. */
  onResync(listener: (channel: string | null) => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /** Called with each channel the server has confirmed a subscription to. A view loads its data
   * when it mounts and subscribes at the same time: what was pushed after the load's query and
   * before the server held the subscription reached neither (seen: a monitor tile's only
   * readings, stored while the subscription's permission check ran). Loading again once the
   * subscription is confirmed closes that gap; from then on every message arrives. */
  onSubscribed(listener: (channel: string) => void): () => void {
    this.subscribedListeners.add(listener);
    return () => this.subscribedListeners.delete(listener);
  }

  /** The network is gone: the socket cannot be trusted, whatever its readyState says. */
  private wentOffline(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.drop();
    this.setState("offline");
  }

  /** Back online: try at once (the backoff was for a failing server, not for the network). */
  private cameBackOnline(): void {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    void this.connect();
  }

  /** Forget the current socket and close it (its close event is then ignored). */
  private drop(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const s = this.socket;
    this.socket = null;
    s?.close(1000);
  }

  private offline(): boolean {
    if (this.opts.network && !this.opts.network.onLine) {
      this.setState("offline"); // the "online" event starts the next attempt
      return true;
    }
    return false;
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.offline()) return;
    this.setState(this.everOpened || this.attempt > 0 ? "reconnecting" : "connecting");
    const token = await this.opts.token();
    if (this.isStopped()) return; // stop() may have run while waiting for the token
    if (!token) {
      this.retry();
      return;
    }
    let socket: SocketLike;
    try {
      socket = this.opts.createSocket(this.opts.url, ["emsync.v1", `bearer.${token}`]);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.heartbeat);
      if (this.stopped) return;
      // 4401: the token expired or was refused; 4403: the account changed (log in again).
      if ((ev.code === 4401 || ev.code === 4403) && this.opts.onAuthRejected) {
        void this.opts.onAuthRejected().finally(() => this.retry());
      } else {
        this.retry();
      }
    };
    socket.onerror = () => undefined; // a close event follows
  }

  private isStopped(): boolean {
    return this.stopped;
  }

  private receive(raw: unknown): void {
    this.lastHeard = Date.now();
    let msg: Partial<ServerMessage> & { type?: string };
    try {
      msg = JSON.parse(String(raw)) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === "ready") {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.lastSeq.clear();
      this.setState("open");
      this.beat();
      const channels = [...this.handlers.keys()];
      if (channels.length) this.send({ op: "subscribe", channels });
      if (reconnected) for (const l of this.resyncListeners) l(null);
      return;
    }
    if (msg.type === "subscribed") {
      const results = (msg as { channels?: unknown }).channels;
      if (results && typeof results === "object") {
        for (const [channel, result] of Object.entries(results)) {
          if (result !== "ok" || !this.handlers.has(channel)) continue;
          for (const l of this.subscribedListeners) l(channel);
        }
      }
      return;
    }
    if (typeof msg.channel !== "string" || typeof msg.seq !== "number") return;
    const previous = this.lastSeq.get(msg.channel);
    this.lastSeq.set(msg.channel, msg.seq);
    if (previous !== undefined && msg.seq > previous + 1) {
      for (const l of this.resyncListeners) l(msg.channel);
    }
    for (const h of this.handlers.get(msg.channel) ?? []) h(msg as ServerMessage);
  }

  /** Ping while open; a ping with nothing heard back by the next one ends the connection.
   * Judged by the ping's answer, not by time since the last message: a background tab's
   * timers may fire a minute apart, and a quiet but healthy connection must stay. */
  private beat(): void {
    clearInterval(this.heartbeat);
    const every = this.opts.heartbeatMs;
    if (every <= 0) return;
    let pinged: number | null = null;
    this.heartbeat = setInterval(() => {
      if (pinged !== null && this.lastHeard < pinged) {
        this.drop();
        this.retry();
        return;
      }
      pinged = Date.now();
      this.send({ op: "ping" });
    }, every);
  }

  private retry(): void {
    if (this.stopped || this.offline()) return;
    this.setState(this.everOpened || this.attempt > 0 ? "reconnecting" : "connecting");
    const delay = backoffDelay(
      this.attempt,
      this.opts.baseDelayMs,
      this.opts.maxDelayMs,
      this.opts.random(),
    );
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private send(msg: object): void {
    if (this.socket?.readyState === 1 && this.stateValue === "open") {
      this.socket.send(JSON.stringify(msg));
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    for (const l of this.stateListeners) l(state);
  }
}
