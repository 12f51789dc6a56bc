import type { ApiClient } from "../../api/client";
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import {
  emergency,
  problemText,
  type ItemRead,
  type LocationRead,
  type MovementCreate,
  type MovementRead,
  type RequestRead,
  type StockAlertRead,
  type StockRead,
  text,
  opt,
} from "../../api/emergency";
import { useApp, useChannel, useResync } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { CsvTools } from "./Emergency";

const KINDS: MovementCreate["kind"][] = ["receipt", "transfer", "issue", "adjust_in", "adjust_out"];

/** Items and stock per location, the movement ledger, requests between locations, alerts. */
export function Inventory() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [items, setItems] = useState<ItemRead[]>([]);
  const [locations, setLocations] = useState<LocationRead[]>([]);
  const [stock, setStock] = useState<StockRead[]>([]);
  const [moves, setMoves] = useState<MovementRead[]>([]);
  const [requests, setRequests] = useState<RequestRead[]>([]);
  const [alerts, setAlerts] = useState<StockAlertRead[]>([]);
  const [kind, setKind] = useState<MovementCreate["kind"]>("receipt");
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    const none = () => [];
    const [i, l, s, m, r, a] = await Promise.all([
      emergency.items(api).catch(none), emergency.locations(api).catch(none), emergency.stock(api).catch(none),
      emergency.movements(api).catch(none), emergency.requests(api).catch(none), emergency.stockAlerts(api).catch(none),
    ]);
    setItems(i); setLocations(l); setStock(s); setMoves(m); setRequests(r); setAlerts(a);
  }, [api]);
  useEffect(() => void load(), [load]);
  useResync(() => void load());
  useChannel("emergency", () => void load());
  const place = (id: string | null | undefined) => locations.find((l) => l.id === id)?.name ?? "—";
  const itemName = (id: string) => items.find((i) => i.id === id)?.name ?? id;

  async function move(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      try {
        const made = await emergency.move(api, {
          kind, item_id: text(f, "item"), quantity: Number(f.get("quantity")),
          from_location_id: ["receipt", "adjust_in"].includes(kind) ? null : opt(f, "from"),
          to_location_id: ["issue", "adjust_out"].includes(kind) ? null : opt(f, "to"),
          lot: opt(f, "lot"), expires_on: kind === "receipt" ? opt(f, "expires") : null, note: opt(f, "note"),
        });
        setMessage(`Recorded ${made.length} ledger row(s).`);
        void load();
      } catch (err) {
        setMessage(`Not recorded: ${problemText(err)}`);
      }
    });
  }

  async function simple(e: SyntheticEvent<HTMLFormElement>, send: (f: FormData, api: ApiClient) => Promise<unknown>, done: string) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      try {
        await send(new FormData(form), api);
        form.reset();
        setMessage(done);
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  return (
    <div className="two-col">
      <div className="grow stack">
        {alerts.length > 0 && (
          <section className="panel" aria-labelledby="stock-alerts"><h2 id="stock-alerts">Stock alerts</h2>
            <ul className="list" data-testid="stock-alerts">{alerts.map((a, n) => <li key={n} className={`alert-${a.kind}`}>{a.kind.replace(/_/g, " ")}: {a.message}</li>)}</ul>
          </section>
        )}
        <section className="panel" aria-labelledby="stock-title">
          <h2 id="stock-title">Stock on hand</h2>
          <table className="table" data-testid="stock">
            <thead><tr><th>Item</th><th>Location</th><th>Lot</th><th>Expires</th><th>Quantity</th></tr></thead>
            <tbody>{stock.map((s) => (
              <tr key={`${s.item_id}-${s.location_id}-${s.lot}`}><td>{s.item_name}</td><td>{s.location_name}</td><td>{s.lot || "—"}</td><td>{s.expires_on ?? "—"}</td><td>{s.quantity} {s.unit}</td></tr>
            ))}</tbody>
          </table>
          <h3>Items</h3>
          <p className="small">{items.map((i) => `${i.name} (${i.sku}): ${i.on_hand} ${i.unit}`).join(" · ") || "No items yet."}</p>
          <CsvTools kind="supplies" onImported={() => void load()} />
        </section>
        <section className="panel" aria-labelledby="ledger-title">
          <h2 id="ledger-title">Movement ledger</h2>
          <table className="table" data-testid="ledger">
            <thead><tr><th>When</th><th>Kind</th><th>Item</th><th>Qty</th><th>From</th><th>To</th><th>Lot</th><th>By</th></tr></thead>
            <tbody>{moves.slice(0, 50).map((m) => (
              <tr key={m.id}><td>{new Date(m.at).toLocaleString()}</td><td>{m.kind}</td><td>{itemName(m.item_id)}</td><td>{m.quantity}</td><td>{place(m.from_location_id)}</td><td>{place(m.to_location_id)}</td><td>{m.lot || "—"}</td><td className="small">{m.actor}</td></tr>
            ))}</tbody>
          </table>
        </section>
        <section className="panel" aria-labelledby="requests-title">
          <h2 id="requests-title">Requests</h2>
          <ul className="list" data-testid="requests">
            {requests.map((r) => (
              <li key={r.id} className="unit">
                {r.quantity} × {itemName(r.item_id)} to {place(r.to_location_id)} — <strong>{r.status}</strong> ({r.fulfilled_quantity} sent){r.note ? ` · ${r.note}` : ""}
                {can("emergency:write") && (r.status === "open" || r.status === "partial") && (
                  <form aria-busy={busy} className="inline" onSubmit={(e) => void simple(e, (f, api) => emergency.fulfil(api, r.id, text(f, "from")), "Sent toward the request.")}>
                    <select name="from" aria-label="Send from">{locations.filter((l) => l.id !== r.to_location_id).map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}</select>
                    <button type="submit" disabled={busy}>Fulfil</button>
                  </form>
                )}
              </li>
            ))}
            {requests.length === 0 && <li className="muted">No requests.</li>}
          </ul>
        </section>
      </div>
      {can("emergency:write") && (
        <aside className="panel side">
          <h2>Record a movement</h2>
          <form aria-busy={busy} onSubmit={(e) => void move(e)} className="form" data-testid="movement-form">
            <label>Kind<select value={kind} onChange={(e) => setKind(e.target.value as MovementCreate["kind"])} name="kind">{KINDS.map((k) => <option key={k} value={k}>{k.replace(/_/g, " ")}</option>)}</select></label>
            <label>Item<select name="item" required>{items.map((i) => <option key={i.id} value={i.id}>{i.name}</option>)}</select></label>
            <label>Quantity<input name="quantity" type="number" min={1} required defaultValue={1} /></label>
            {!["receipt", "adjust_in"].includes(kind) && <label>From<select name="from">{locations.map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}</select></label>}
            {!["issue", "adjust_out"].includes(kind) && <label>To<select name="to">{locations.map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}</select></label>}
            <label>Lot (optional; takes go first-expiry-first-out)<input name="lot" /></label>
            {kind === "receipt" && <label>Expires on<input name="expires" type="date" /></label>}
            <label>Note<input name="note" /></label>
            <button disabled={busy} className="primary" type="submit">Record</button>
          </form>
          {message && <p role="status" data-testid="inventory-message">{message}</p>}
          <h2>Request supplies</h2>
          <form aria-busy={busy} className="form" onSubmit={(e) => void simple(e, (f, api) => emergency.createRequest(api, { item_id: f.get("item"), quantity: Number(f.get("quantity")), to_location_id: f.get("to"), note: f.get("note") || null }), "Requested.")}>
            <label>Item<select name="item">{items.map((i) => <option key={i.id} value={i.id}>{i.name}</option>)}</select></label>
            <label>Quantity<input name="quantity" type="number" min={1} defaultValue={10} /></label>
            <label>To<select name="to">{locations.map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}</select></label>
            <label>Note<input name="note" /></label>
            <button type="submit" disabled={busy}>Request</button>
          </form>
          <h2>New item</h2>
          <form aria-busy={busy} className="form" data-testid="item-form" onSubmit={(e) => void simple(e, (f, api) => emergency.createItem(api, { sku: f.get("sku"), name: f.get("name"), unit: f.get("unit"), min_stock: Number(f.get("min") || 0) }), "Item added.")}>
            <label>SKU<input name="sku" required pattern="[A-Za-z0-9._\-]+" /></label>
            <label>Name<input name="name" required /></label>
            <label>Unit<input name="unit" required defaultValue="each" /></label>
            <label>Low-stock threshold<input name="min" type="number" min={0} defaultValue={0} /></label>
            <button type="submit" disabled={busy}>Add item</button>
          </form>
          <h2>New location</h2>
          <form aria-busy={busy} className="form" data-testid="location-form" onSubmit={(e) => void simple(e, (f, api) => emergency.createLocation(api, { name: f.get("name"), kind: f.get("kind") }), "Location added.")}>
            <label>Name<input name="name" required /></label>
            <label>Kind<select name="kind">{["warehouse", "station", "vehicle"].map((k) => <option key={k}>{k}</option>)}</select></label>
            <button type="submit" disabled={busy}>Add location</button>
          </form>
        </aside>
      )}
    </div>
  );
}
