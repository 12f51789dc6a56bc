import { useCallback, useEffect, useMemo, useState, type SyntheticEvent } from "react";
import {
  emergency,
  problemText,
  type GeoCollection,
  type PublicAlertCompose,
  type PublicAlertRead,
  text,
  opt,
} from "../../api/emergency";
import { useApp, useChannel, useResync } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { LayerMap } from "../../components/LayerMap";

const CATEGORIES = ["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"] as const;
const RESPONSES = ["Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"] as const;
type Area = PublicAlertCompose["areas"][number];

/** The CAP 1.2 composer: draw polygons and circles on the map, publish, update or cancel. */
export function Alerts() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [alerts, setAlerts] = useState<PublicAlertRead[]>([]);
  const [layer, setLayer] = useState<GeoCollection | null>(null);
  const [mode, setMode] = useState<"polygon" | "circle">("polygon");
  const [ring, setRing] = useState<[number, number][]>([]);
  const [circle, setCircle] = useState<{ lat: number; lon: number; radius_km: number } | null>(null);
  const [areas, setAreas] = useState<Area[]>([]);
  const [areaDesc, setAreaDesc] = useState("");
  const [editing, setEditing] = useState<PublicAlertRead | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    setAlerts(await emergency.alerts(api).catch(() => []));
    setLayer(await emergency.layer(api, "alert-areas").catch(() => null));
  }, [api]);
  useEffect(() => void load(), [load]);
  useResync(() => void load());
  useChannel("emergency", () => void load());

  function onMap(lat: number, lon: number) {
    const p: [number, number] = [Number(lat.toFixed(5)), Number(lon.toFixed(5))];
    if (mode === "polygon") setRing((r) => [...r, p]);
    else setCircle((c) => ({ lat: p[0], lon: p[1], radius_km: c?.radius_km ?? 1 }));
  }
  function addArea() {
    const desc = areaDesc.trim() || `Area ${areas.length + 1}`;
    if (mode === "polygon") {
      const first = ring[0];
      if (ring.length < 3 || !first) return setMessage("A polygon needs at least 3 points: click the map.");
      setAreas((a) => [...a, { desc, polygons: [[...ring, first]], circles: [], geocodes: [] }]);
      setRing([]);
    } else {
      if (!circle) return setMessage("Click the map for the circle's centre.");
      setAreas((a) => [...a, { desc, polygons: [], circles: [circle], geocodes: [] }]);
      setCircle(null);
    }
    setAreaDesc("");
    setMessage(null);
  }

  async function publish(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      const expires = text(f, "expires");
      const body: PublicAlertCompose = {
        status: text(f, "status") as PublicAlertCompose["status"],
        scope: "Public",
        categories: CATEGORIES.filter((c) => f.get(`cat-${c}`)),
        response_types: RESPONSES.filter((r) => f.get(`resp-${r}`)),
        event: text(f, "event"),
        urgency: text(f, "urgency") as PublicAlertCompose["urgency"],
        severity: text(f, "severity") as PublicAlertCompose["severity"],
        certainty: text(f, "certainty") as PublicAlertCompose["certainty"],
        headline: opt(f, "headline"),
        description: opt(f, "description"),
        instruction: opt(f, "instruction"),
        expires: expires ? new Date(expires).toISOString() : null,
        language: "en-US",
        areas,
      };
      try {
        const a = editing ? await emergency.updateAlert(api, editing.thread_id, body) : await emergency.publish(api, body);
        setMessage(`${a.msg_type} published: ${a.identifier} (CAP 1.2, schema-valid${a.signed ? ", signed" : ""}).`);
        setAreas([]);
        setEditing(null);
        void load();
      } catch (err) {
        setMessage(`Not published: ${problemText(err)}`);
      }
    });
  }

  async function cancel(a: PublicAlertRead) {
    await run(async (api) => {
      const note = window.prompt("Why is this alert cancelled?");
      if (!note) return;
      try {
        await emergency.cancelAlert(api, a.thread_id, note);
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  const drawn = useMemo<GeoCollection>(() => ({
    type: "FeatureCollection",
    features: areas.flatMap((a) => [
      ...(a.polygons ?? []).map((ring) => ({ type: "Feature" as const, geometry: { type: "Polygon", coordinates: [ring.map(([la, lo]) => [lo, la])] }, properties: { area: a.desc } })),
      ...(a.circles ?? []).map((c) => ({ type: "Feature" as const, geometry: { type: "Point", coordinates: [c.lon, c.lat] }, properties: { area: a.desc, radius_km: c.radius_km } })),
    ]),
  }), [areas]);
  const layers = useMemo(() => [
    { name: "Active alert areas", color: "#c0392b", data: layer, label: (p: Record<string, unknown>) => `${String(p.event)}: ${String(p.area)}` },
    { name: "Areas of this alert", color: "#d35400", data: drawn, label: (p: Record<string, unknown>) => String(p.area) },
  ], [layer, drawn]);
  const compose = editing?.compose;

  return (
    <div className="two-col">
      <section className="panel grow" aria-labelledby="composer-title">
        <h2 id="composer-title">{editing ? `Update: ${editing.headline ?? editing.event}` : "Compose a public alert"}</h2>
        <div className="actions" role="group" aria-label="Drawing mode">
          <button type="button" aria-pressed={mode === "polygon"} onClick={() => setMode("polygon")}>Draw polygon</button>
          <button type="button" aria-pressed={mode === "circle"} onClick={() => setMode("circle")}>Draw circle</button>
          {mode === "circle" && (
            <label className="inline">Radius km<input type="number" min={0.1} step={0.1} value={circle?.radius_km ?? 1} onChange={(e) => setCircle((c) => (c ? { ...c, radius_km: Number(e.target.value) } : c))} aria-label="Circle radius in km" /></label>
          )}
          <label className="inline">Area name<input value={areaDesc} onChange={(e) => setAreaDesc(e.target.value)} aria-label="Area description" /></label>
          <button type="button" onClick={addArea} data-testid="add-area">Add area</button>
          <button type="button" onClick={() => { setRing([]); setCircle(null); }}>Clear sketch</button>
        </div>
        <p className="muted small">Click the map to place {mode === "polygon" ? `polygon points (${ring.length} so far)` : "the circle's centre"}. Areas: {areas.map((a) => a.desc).join(", ") || "none yet"}.</p>
        <LayerMap layers={layers} onClick={onMap} drawing={{ polygon: ring, circle }} />
        <h3>Active alerts</h3>
        <p className="small">Public Atom feed: <a href="/api/emergency/public/alerts.atom">/api/emergency/public/alerts.atom</a></p>
        <ul className="list" data-testid="active-alerts">
          {alerts.map((a) => (
            <li key={a.id} className={`card alert-card sev-${a.severity}`}>
              <strong>{a.headline ?? a.event}</strong> <span className="status">{a.severity}</span> <span className="muted small">{a.msg_type} · {a.status} · {new Date(a.sent).toLocaleString()}</span>
              <p className="small">{a.compose.areas.map((x) => x.desc).join(", ")}</p>
              <p className="small"><a href={`/api/emergency/public/alerts/${a.identifier}.xml`}>CAP XML</a></p>
              {can("emergency:write") && (
                <div className="actions">
                  <button type="button" onClick={() => { setEditing(a); setAreas(a.compose.areas); }}>Update</button>
                  <button disabled={busy} type="button" className="danger" onClick={() => void cancel(a)}>Cancel alert</button>
                </div>
              )}
            </li>
          ))}
          {alerts.length === 0 && <li className="muted">No active alerts.</li>}
        </ul>
      </section>
      {can("emergency:write") && (
        <aside className="panel side">
          <form aria-busy={busy} key={editing?.id ?? "new"} onSubmit={(e) => void publish(e)} className="form" data-testid="alert-form">
            <label>Event<input name="event" required defaultValue={compose?.event ?? ""} placeholder="Flood" /></label>
            <label>Headline<input name="headline" maxLength={160} defaultValue={compose?.headline ?? ""} /></label>
            <label>Description<textarea name="description" rows={3} defaultValue={compose?.description ?? ""} /></label>
            <label>Instruction<textarea name="instruction" rows={3} defaultValue={compose?.instruction ?? ""} /></label>
            <fieldset className="grid3"><legend>Category</legend>
              {CATEGORIES.map((c) => <label key={c} className="check"><input type="checkbox" name={`cat-${c}`} defaultChecked={compose ? compose.categories.includes(c) : c === "Safety"} />{c}</label>)}
            </fieldset>
            <fieldset className="grid3"><legend>Response</legend>
              {RESPONSES.map((r) => <label key={r} className="check"><input type="checkbox" name={`resp-${r}`} defaultChecked={compose?.response_types?.includes(r) ?? false} />{r}</label>)}
            </fieldset>
            <div className="row2">
              <label>Urgency<select name="urgency" defaultValue={compose?.urgency ?? "Immediate"}>{["Immediate", "Expected", "Future", "Past", "Unknown"].map((x) => <option key={x}>{x}</option>)}</select></label>
              <label>Severity<select name="severity" defaultValue={compose?.severity ?? "Severe"}>{["Extreme", "Severe", "Moderate", "Minor", "Unknown"].map((x) => <option key={x}>{x}</option>)}</select></label>
            </div>
            <div className="row2">
              <label>Certainty<select name="certainty" defaultValue={compose?.certainty ?? "Observed"}>{["Observed", "Likely", "Possible", "Unlikely", "Unknown"].map((x) => <option key={x}>{x}</option>)}</select></label>
              <label>Status<select name="status" defaultValue={compose?.status ?? "Actual"}>{["Actual", "Exercise", "Test", "Draft"].map((x) => <option key={x}>{x}</option>)}</select></label>
            </div>
            <label>Expires<input name="expires" type="datetime-local" /></label>
            <p className="small">{areas.length} area(s) drawn.</p>
            <div className="actions">
              <button className="primary" type="submit" disabled={busy || areas.length === 0}>{editing ? "Publish update" : "Publish alert"}</button>
              {editing && <button type="button" onClick={() => { setEditing(null); setAreas([]); }}>Stop editing</button>}
            </div>
          </form>
          {message && <p role="status" className="pre" data-testid="alert-message">{message}</p>}
        </aside>
      )}
    </div>
  );
}
