/* The crew's offline queue (issue #23): every action the crew takes (a status tap, a handoff
 * save or send, a photo) is stored first and sent from here, oldest first, one at a time.
 *
 * Exactly once: an action gets its `Idempotency-Key` when it is queued and keeps it for every
 * attempt, so a send whose answer was lost (the network dropped mid-request) is answered from
 * the server's kept response when repeated, never applied twice. In order: the queue stops at
 * the first action that cannot be sent now (no network, server trouble) and tries again later;
 * an action the server refuses (4xx) is taken out and reported, and the next one goes.
 *
 * The store is IndexedDB (photos are kept as Blobs), so a closed tab or a flat battery loses
 * nothing; each action names the account that took it and is only sent under that account. */
import { openDB, type DBSchema, type IDBPDatabase } from "idb";

export type ActionBody =
  | { kind: "json"; value: unknown }
  | { kind: "form"; fields: Record<string, string>; file: { field: string; name: string; blob: Blob } };

export interface QueuedAction {
  /** Also the Idempotency-Key of every attempt. */
  id: string;
  /** Insertion order (the store's key). */
  seq?: number;
  owner: string;
  label: string;
  method: "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  body: ActionBody;
  queuedAt: number;
  attempts: number;
  lastError?: string | null;
}

/** How one attempt went: answered (the action is done), refused for good, or not now. */
export type SendOutcome =
  | { kind: "done"; response: unknown }
  | { kind: "refused"; status: number; message: string }
  | { kind: "later"; message: string };

export type Sender = (action: QueuedAction) => Promise<SendOutcome>;

export interface QueueStore {
  add(action: QueuedAction): Promise<number>;
  /** Every stored action, oldest first. */
  all(): Promise<QueuedAction[]>;
  put(action: QueuedAction): Promise<void>;
  remove(seq: number): Promise<void>;
}

export interface Refusal {
  action: QueuedAction;
  status: number;
  message: string;
}

export interface QueueState {
  pending: QueuedAction[];
  refused: Refusal[];
  sending: boolean;
}

type Listener = (state: QueueState) => void;
type Done = (action: QueuedAction, response: unknown) => void;

export class OfflineQueue {
  private pending: QueuedAction[] = [];
  private refused: Refusal[] = [];
  private flushing: Promise<void> | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly done = new Set<Done>();

  constructor(
    private readonly store: QueueStore,
    private readonly send: Sender,
    private readonly owner: () => string | null,
  ) {}

  /** Read what an earlier page load left in the store. */
  async load(): Promise<void> {
    this.pending = await this.mine();
    this.emit();
  }

  get state(): QueueState {
    return { pending: [...this.pending], refused: [...this.refused], sending: this.flushing !== null };
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  /** Called with each action the server answered (to refresh what the view shows). */
  onDone(listener: Done): () => void {
    this.done.add(listener);
    return () => this.done.delete(listener);
  }

  /** Store the action, then try to send everything queued. */
  async enqueue(action: Omit<QueuedAction, "id" | "owner" | "queuedAt" | "attempts">): Promise<QueuedAction> {
    const owner = this.owner();
    if (!owner) throw new Error("not signed in");
    const stored: QueuedAction = { ...action, id: newKey(), owner, queuedAt: Date.now(), attempts: 0 };
    stored.seq = await this.store.add(stored);
    this.pending = [...this.pending, stored];
    this.emit();
    void this.flush();
    return stored;
  }

  dismiss(refusal: Refusal): void {
    this.refused = this.refused.filter((r) => r !== refusal);
    this.emit();
  }

  /** Send queued actions in order until one cannot go now. One flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
      this.emit();
    });
    this.emit();
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const [next] = await this.mine();
      if (!next) return;
      const outcome = await this.send(next).catch(
        (e: unknown): SendOutcome => ({ kind: "later", message: e instanceof Error ? e.message : String(e) }),
      );
      if (outcome.kind === "later") {
        await this.store.put({ ...next, attempts: next.attempts + 1, lastError: outcome.message });
        this.pending = await this.mine();
        return;
      }
      await this.store.remove(next.seq as number);
      this.pending = await this.mine();
      if (outcome.kind === "refused") {
        this.refused = [...this.refused, { action: next, status: outcome.status, message: outcome.message }];
      } else {
        for (const l of this.done) l(next, outcome.response);
      }
      this.emit();
    }
  }

  private async mine(): Promise<QueuedAction[]> {
    const owner = this.owner();
    return (await this.store.all()).filter((a) => a.owner === owner);
  }

  private emit(): void {
    const state = this.state;
    for (const l of this.listeners) l(state);
  }
}

function newKey(): string {
  return typeof crypto !== "undefined" && "randomUUID" in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

interface QueueDB extends DBSchema {
  actions: { key: number; value: QueuedAction };
}

/** The queue's IndexedDB store: one object store, keyed by an auto-incremented sequence. */
export class IndexedDbStore implements QueueStore {
  private db: Promise<IDBPDatabase<QueueDB>> | null = null;

  constructor(private readonly name = "emsync-crew-queue") {}

  private open(): Promise<IDBPDatabase<QueueDB>> {
    this.db ??= openDB<QueueDB>(this.name, 1, {
      upgrade(db) {
        db.createObjectStore("actions", { keyPath: "seq", autoIncrement: true });
      },
    });
    return this.db;
  }

  async add(action: QueuedAction): Promise<number> {
    const fresh = { ...action };
    delete fresh.seq; // the store numbers it
    return (await this.open()).add("actions", fresh);
  }

  async all(): Promise<QueuedAction[]> {
    return (await this.open()).getAll("actions");
  }

  async put(action: QueuedAction): Promise<void> {
    await (await this.open()).put("actions", action);
  }

  async remove(seq: number): Promise<void> {
    await (await this.open()).delete("actions", seq);
  }
}
