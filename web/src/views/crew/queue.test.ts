// The crew's offline queue over a real IndexedDB implementation (fake-indexeddb is the W3C
// IndexedDB API in memory); the sender stands for the network, answering as a script says.
import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { expectedStatus } from "./lifecycle";
import { IndexedDbStore, OfflineQueue, type QueuedAction, type SendOutcome } from "./queue";

let dbs = 0;
const freshStore = () => new IndexedDbStore(`queue-test-${++dbs}`);

/** A network that answers each attempt from `script` (then "done"), recording every attempt. */
function network(script: SendOutcome["kind"][] = []) {
  const attempts: { label: string; key: string }[] = [];
  const send = (a: QueuedAction): Promise<SendOutcome> => {
    attempts.push({ label: a.label, key: a.id });
    const kind = script.shift() ?? "done";
    if (kind === "later") return Promise.resolve({ kind, message: "no network" });
    if (kind === "refused") return Promise.resolve({ kind, status: 409, message: "not allowed now" });
    return Promise.resolve({ kind: "done", response: { label: a.label } });
  };
  return { attempts, send };
}

const status = (s: string) => ({ label: s, method: "POST" as const, path: "/api/crew/status", body: { kind: "json" as const, value: { status: s } } });

describe("OfflineQueue", () => {
  it("sends queued actions in order, each once, with the key it was queued with", async () => {
    const net = network(["later"]); // the first attempt finds no network
    const queue = new OfflineQueue(freshStore(), net.send, () => "crew1");
    const first = await queue.enqueue(status("transporting"));
    await queue.flush();
    const second = await queue.enqueue(status("at_hospital"));
    await queue.flush();
    expect(queue.state.pending).toHaveLength(0);
    expect(net.attempts.map((a) => a.label)).toEqual(["transporting", "transporting", "at_hospital"]);
    // The retried action kept its Idempotency-Key: the server acts once.
    expect(net.attempts[0]?.key).toBe(first.id);
    expect(net.attempts[1]?.key).toBe(first.id);
    expect(net.attempts[2]?.key).toBe(second.id);
    expect(first.id).not.toBe(second.id);
  });

  it("stops at the first action that cannot go, so nothing overtakes it", async () => {
    let up = false;
    const sent: string[] = [];
    const send = (a: QueuedAction): Promise<SendOutcome> => {
      sent.push(a.label);
      return Promise.resolve(up ? { kind: "done", response: null } : { kind: "later", message: "offline" });
    };
    const queue = new OfflineQueue(freshStore(), send, () => "crew1");
    await queue.enqueue(status("transporting"));
    await queue.enqueue(status("at_hospital"));
    await queue.flush();
    expect(new Set(sent)).toEqual(new Set(["transporting"]));
    expect(queue.state.pending.map((a) => a.label)).toEqual(["transporting", "at_hospital"]);
    up = true;
    sent.length = 0;
    await queue.flush();
    expect(sent).toEqual(["transporting", "at_hospital"]);
    expect(queue.state.pending).toHaveLength(0);
  });

  it("takes out and reports an action the server refuses, and goes on with the next", async () => {
    const net = network(["refused"]);
    const queue = new OfflineQueue(freshStore(), net.send, () => "crew1");
    const done: string[] = [];
    queue.onDone((a) => done.push(a.label));
    await queue.enqueue(status("at_hospital"));
    await queue.enqueue(status("available"));
    await queue.flush();
    expect(queue.state.pending).toHaveLength(0);
    expect(queue.state.refused.map((r) => [r.action.label, r.status, r.message])).toEqual([["at_hospital", 409, "not allowed now"]]);
    expect(done).toEqual(["available"]);
    const refusal = queue.state.refused[0];
    if (refusal) queue.dismiss(refusal);
    expect(queue.state.refused).toHaveLength(0);
  });

  it("keeps actions across a reload and sends them once from the new page", async () => {
    const store = freshStore();
    const offline = network(["later", "later", "later"]);
    const before = new OfflineQueue(store, offline.send, () => "crew1");
    await before.enqueue(status("transporting"));
    await before.enqueue({
      label: "Photo",
      method: "POST",
      path: "/api/handoffs/h1/attachments",
      body: { kind: "form", fields: { kind: "photo" }, file: { field: "file", name: "wound.png", blob: new Blob(["png"], { type: "image/png" }) } },
    });
    const online = network();
    const after = new OfflineQueue(store, online.send, () => "crew1");
    await after.load();
    expect(after.state.pending.map((a) => a.label)).toEqual(["transporting", "Photo"]);
    const photo = after.state.pending[1];
    expect(photo?.body.kind === "form" && photo.body.file.name).toBe("wound.png");
    await after.flush();
    expect(online.attempts.map((a) => a.label)).toEqual(["transporting", "Photo"]);
    expect(await store.all()).toEqual([]);
  });

  it("sends nothing twice when flushes overlap (the online event and the retry timer)", async () => {
    const net = network();
    const queue = new OfflineQueue(freshStore(), net.send, () => "crew1");
    const store = new IndexedDbStore(`queue-test-${dbs}`);
    for (const s of ["en_route", "on_scene", "transporting"]) await store.add({ ...status(s), id: s, owner: "crew1", queuedAt: 0, attempts: 0 });
    await Promise.all([queue.flush(), queue.flush(), queue.flush()]);
    expect(net.attempts.map((a) => a.key)).toEqual(["en_route", "on_scene", "transporting"]);
  });

  it("sends only the signed-in account's actions", async () => {
    const store = freshStore();
    let who = "crew1";
    const net = network(["later"]);
    const queue = new OfflineQueue(store, net.send, () => who);
    await queue.enqueue(status("transporting"));
    who = "crew2";
    await queue.load();
    expect(queue.state.pending).toHaveLength(0);
    await queue.flush();
    expect(net.attempts).toHaveLength(1); // only crew1's first, offline attempt
    who = "crew1";
    await queue.flush();
    expect(net.attempts.map((a) => a.label)).toEqual(["transporting", "transporting"]);
  });

  it("refuses to queue without a signed-in account", async () => {
    const queue = new OfflineQueue(freshStore(), network().send, () => null);
    await expect(queue.enqueue(status("en_route"))).rejects.toThrow("not signed in");
  });
});

describe("expectedStatus", () => {
  it("is the newest queued status tap, else the server's", () => {
    const pending = [status("transporting"), status("at_hospital")].map((a, i) => ({ ...a, id: String(i), owner: "c", queuedAt: 0, attempts: 0 }));
    expect(expectedStatus("on_scene", [])).toBe("on_scene");
    expect(expectedStatus("on_scene", pending)).toBe("at_hospital");
  });
});
