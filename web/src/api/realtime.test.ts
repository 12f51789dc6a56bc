import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Realtime, backoffDelay, type ConnectionState, type NetworkLike, type SocketLike } from "./realtime";

/** The browser's online/offline status, switched by the test. */
class FakeNetwork implements NetworkLike {
  onLine = true;
  private readonly listeners = new Map<string, Set<() => void>>();
  addEventListener(type: string, l: () => void) {
    const set = this.listeners.get(type) ?? new Set();
    set.add(l);
    this.listeners.set(type, set);
  }
  removeEventListener(type: string, l: () => void) {
    this.listeners.get(type)?.delete(l);
  }
  set(onLine: boolean) {
    this.onLine = onLine;
    for (const l of this.listeners.get(onLine ? "online" : "offline") ?? []) l();
  }
}

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  sent: unknown[] = [];
  constructor(readonly protocols: string[]) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.drop(1000);
  }
  serverReady() {
    this.readyState = 1;
    this.deliver({ type: "ready" });
  }
  deliver(msg: object) {
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent);
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }
}

describe("Realtime", () => {
  let sockets: FakeSocket[];
  let rt: Realtime;
  let states: ConnectionState[];
  let network: FakeNetwork;

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = [];
    states = [];
    network = new FakeNetwork();
    rt = new Realtime({
      network,
      heartbeatMs: 1000,
      url: "ws://test/ws",
      token: () => Promise.resolve("tok"),
      createSocket: (_url, protocols) => {
        const s = new FakeSocket(protocols);
        sockets.push(s);
        return s;
      },
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 1,
    });
    rt.onState((s) => states.push(s));
  });
  afterEach(() => {
    rt.stop();
    vi.useRealTimers();
  });

  const last = () => {
    const s = sockets[sockets.length - 1];
    if (!s) throw new Error("no socket");
    return s;
  };

  it("authenticates with the bearer subprotocol and subscribes once ready", async () => {
    const got: unknown[] = [];
    rt.subscribe("incidents", (m) => got.push(m.data));
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(last().protocols).toEqual(["emsync.v1", "bearer.tok"]);
    last().serverReady();
    expect(rt.state).toBe("open");
    expect(last().sent).toEqual([{ op: "subscribe", channels: ["incidents"] }]);
    last().deliver({ channel: "incidents", type: "IncidentCreated", data: { id: "i1" }, seq: 1 });
    expect(got).toEqual([{ id: "i1" }]);
  });

  it("shows reconnecting after a drop, backs off, resubscribes and asks for a refetch", async () => {
    const resyncs: (string | null)[] = [];
    rt.onResync((c) => resyncs.push(c));
    rt.subscribe("alerts", () => undefined);
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().serverReady();
    last().drop();
    expect(rt.state).toBe("reconnecting");
    expect(sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(sockets).toHaveLength(1); // still waiting out the backoff
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets).toHaveLength(2);
    last().drop(); // the second attempt fails too: the wait doubles
    await vi.advanceTimersByTimeAsync(199);
    expect(sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets).toHaveLength(3);
    expect(rt.state).toBe("reconnecting");
    last().serverReady();
    expect(rt.state).toBe("open");
    expect(last().sent).toEqual([{ op: "subscribe", channels: ["alerts"] }]);
    expect(resyncs).toEqual([null]);
    expect(states).toEqual(["connecting", "open", "reconnecting", "open"]);
  });

  it("says offline when the browser loses the network, and live again when it is back", async () => {
    const resyncs: (string | null)[] = [];
    rt.onResync((c) => resyncs.push(c));
    rt.subscribe("alerts", () => undefined);
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().serverReady();
    const first = last();
    network.set(false);
    expect(rt.state).toBe("offline");
    expect(first.readyState).toBe(3); // an "open" socket is not trusted once offline
    await vi.advanceTimersByTimeAsync(5000);
    expect(sockets).toHaveLength(1); // no attempts while offline
    expect(rt.state).toBe("offline");
    network.set(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(2); // at once, not after a backoff
    expect(rt.state).toBe("reconnecting");
    last().serverReady();
    expect(rt.state).toBe("open");
    expect(resyncs).toEqual([null]); // what was missed is fetched again
    expect(states).toEqual(["connecting", "open", "offline", "reconnecting", "open"]);
  });

  it("starts offline when there is no network", async () => {
    network.onLine = false;
    rt.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(rt.state).toBe("offline");
    expect(sockets).toHaveLength(0);
  });

  it("keeps a quiet connection whose pings are answered, however late the timer fires", async () => {
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().serverReady();
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      last().deliver({ type: "pong" });
      vi.setSystemTime(Date.now() + 60_000); // a throttled background tab: a minute between ticks
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(rt.state).toBe("open");
    expect(sockets).toHaveLength(1);
  });

  it("pings while open and ends a connection that has gone silent", async () => {
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().serverReady();
    await vi.advanceTimersByTimeAsync(1000);
    expect(last().sent).toEqual([{ op: "ping" }]);
    last().deliver({ type: "pong" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(rt.state).toBe("open"); // answered: still live
    expect(last().sent).toEqual([{ op: "ping" }, { op: "ping" }]);
    await vi.advanceTimersByTimeAsync(1000); // the second ping went unanswered
    expect(rt.state).toBe("reconnecting");
    expect(sockets[0]?.readyState).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(sockets).toHaveLength(2);
  });

  it("asks for a refetch of a channel whose sequence skips", async () => {
    const resyncs: (string | null)[] = [];
    rt.onResync((c) => resyncs.push(c));
    rt.subscribe("units", () => undefined);
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().serverReady();
    last().deliver({ channel: "units", type: "x", data: {}, seq: 4 });
    last().deliver({ channel: "units", type: "x", data: {}, seq: 5 });
    expect(resyncs).toEqual([]);
    last().deliver({ channel: "units", type: "x", data: {}, seq: 9 });
    expect(resyncs).toEqual(["units"]);
  });

  it("tells a channel's listeners once the server confirms its subscription", async () => {
    const confirmed: string[] = [];
    rt.onSubscribed((c) => confirmed.push(c));
    rt.subscribe("vitals:p1", () => undefined);
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().serverReady();
    expect(confirmed).toEqual([]); // asked, not yet held by the server
    last().deliver({
      type: "subscribed",
      channels: { "vitals:p1": "ok", "vitals:p2": "ok", "vitals:p3": "not allowed" },
    });
    // Refused, or no longer listened to here: nothing to load again.
    expect(confirmed).toEqual(["vitals:p1"]);
  });

  it("refreshes the token when the server refuses it", async () => {
    const refreshed = vi.fn(() => Promise.resolve());
    rt.stop();
    rt = new Realtime({
      url: "ws://test/ws",
      token: () => Promise.resolve("tok"),
      onAuthRejected: refreshed,
      createSocket: (_u, p) => {
        const s = new FakeSocket(p);
        sockets.push(s);
        return s;
      },
      baseDelayMs: 10,
      random: () => 0,
    });
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    last().drop(4401);
    await vi.advanceTimersByTimeAsync(10);
    expect(refreshed).toHaveBeenCalledOnce();
    expect(sockets).toHaveLength(2);
  });
});

describe("backoffDelay", () => {
  it("doubles up to the ceiling, with jitter in the upper half", () => {
    expect(backoffDelay(0, 500, 15_000, 1)).toBe(500);
    expect(backoffDelay(3, 500, 15_000, 1)).toBe(4000);
    expect(backoffDelay(10, 500, 15_000, 1)).toBe(15_000);
    expect(backoffDelay(10, 500, 15_000, 0)).toBe(7_500);
  });
});
