import { useCallback, useEffect, useMemo, useState, type SyntheticEvent } from "react";
import { emergency, problemText, type FeedStatus, type GeoCollection } from "../../api/emergency";
import { useApp, useChannel, useResync } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { LayerMap } from "../../components/LayerMap";

/** Map layers: shelters, resources, active alert areas, hazard feeds; and the feeds themselves. */
export function EmergencyMap() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [data, setData] = useState<Record<string, GeoCollection | null>>({});
  const [feeds, setFeeds] = useState<FeedStatus[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    const names = ["shelters", "resources", "alert-areas", "hazards"] as const;
    const got = await Promise.all(names.map((n) => emergency.layer(api, n).catch(() => null)));
    setData(Object.fromEntries(names.map((n, i) => [n, got[i] ?? null])));
    setFeeds(await emergency.feeds(api).catch(() => []));
  }, [api]);
  useEffect(() => void load(), [load]);
  useResync(() => void load());
  useChannel("emergency", () => void load());

  const layers = useMemo(() => [
    { name: "Shelters", color: "#2e7d32", data: data.shelters ?? null, label: (p: Record<string, unknown>) => `${String(p.name)} (${String(p.status)}): ${String(p.occupied_beds)}/${String(p.capacity_beds)} beds` },
    { name: "Resources", color: "#1f6fb2", data: data.resources ?? null, label: (p: Record<string, unknown>) => `${String(p.name)}: ${String(p.kind).replace(/_/g, " ")}, ${String(p.status)}` },
    { name: "Public alert areas", color: "#c0392b", data: data["alert-areas"] ?? null, label: (p: Record<string, unknown>) => `${String(p.event)}: ${String(p.area)}` },
    { name: "Hazard feeds", color: "#8e44ad", data: data.hazards ?? null, label: (p: Record<string, unknown>) => `${String(p.feed)}: ${String(p.title)}` },
  ], [data]);

  async function addFeed(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      const f = new FormData(form);
      try {
        const feed = await emergency.createFeed(api, { name: f.get("name"), url: f.get("url"), format: f.get("format") });
        await emergency.refreshFeed(api, feed.id);
        form.reset();
        void load();
      } catch (err) {
        setMessage(problemText(err));
        void load();
      }
    });
  }

  return (
    <div className="two-col">
      <section className="panel grow" aria-labelledby="map-title">
        <h2 id="map-title">Operational map</h2>
        <LayerMap layers={layers} />
        <p className="legend small">
          <span className="key" style={{ background: "#2e7d32" }} /> shelters <span className="key" style={{ background: "#1f6fb2" }} /> resources
          <span className="key" style={{ background: "#c0392b" }} /> public alert areas <span className="key" style={{ background: "#8e44ad" }} /> hazards
        </p>
      </section>
      <aside className="panel side">
        <h2>Hazard feeds</h2>
        <ul className="list" data-testid="feeds">
          {feeds.map((f) => (
            <li key={f.id} className="unit">
              <strong>{f.name}</strong> ({f.format}) · {f.features} feature(s)
              {f.last_error && <span className="warn"> · last error: {f.last_error}</span>}
              {can("emergency:write") && <button type="button" onClick={() => void emergency.refreshFeed(api, f.id).then(load, (err: unknown) => { setMessage(problemText(err)); void load(); })}>Refresh</button>}
            </li>
          ))}
        </ul>
        {can("emergency:write") && (
          <form aria-busy={busy} className="form" onSubmit={(e) => void addFeed(e)}>
            <label>Name<input name="name" required /></label>
            <label>URL (http, https or file)<input name="url" required /></label>
            <label>Format<select name="format"><option value="geojson">GeoJSON earthquakes</option><option value="cap">CAP 1.2 (alert or Atom index)</option></select></label>
            <button type="submit" disabled={busy}>Add feed</button>
          </form>
        )}
        {message && <p role="status">{message}</p>}
      </aside>
    </div>
  );
}
