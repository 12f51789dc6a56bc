/* The live bridge: one WebSocket to `/ws` (DESIGN §3.2), shared by every view.
 * A dropped connection reconnects with exponential backoff and jitter; after a reconnect, or
 * when a channel's `seq` skips, listeners are told to refetch what they may have missed. */

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

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
  private readonly opts: Required<Omit<RealtimeOptions, "onAuthRejected">> &
    Pick<RealtimeOptions, "onAuthRejected">;

  constructor(options: RealtimeOptions) {
    this.opts = {
      createSocket: (url, protocols) => new WebSocket(url, protocols),
      baseDelayMs: 500,
      maxDelayMs: 15_000,
      random: Math.random,
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
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const s = this.socket;
    this.socket = null;
    s?.close(1000);
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

  private async connect(): Promise<void> {
    if (this.stopped) return;
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
      const channels = [...this.handlers.keys()];
      if (channels.length) this.send({ op: "subscribe", channels });
      if (reconnected) for (const l of this.resyncListeners) l(null);
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

  private retry(): void {
    if (this.stopped) return;
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
