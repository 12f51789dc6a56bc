import { useCallback, useEffect, useMemo, useRef, useState, type SyntheticEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { endpoints, type FeatureCollection, type LineStringGeometry } from "../api/endpoints";
import type {
  DestinationRecommendation,
  HospitalRead as Hospital,
  IncidentCreate,
  IncidentPage,
  IncidentRead,
  IncidentSummary,
  RecommendationRead,
  UnitRead as Unit,
} from "../api/types";
import { useApp, useChannel, useNow, useResync } from "../app/context";
import { AddressSearch } from "../components/AddressSearch";
import { MapView, type MapPoint } from "../components/MapView";
import { OPEN_STATUSES, byAcuityThenWaiting } from "../lib/queue";
import { ago, etaText } from "../lib/time";

const PRIORITY_TONE = ["", "#8e0000", "#c0392b", "#e67e22", "#f1c40f", "#2e7d32"];

export function Dispatch() {
  const { api, can } = useApp();
  const { incidentId } = useParams();
  const navigate = useNavigate();
  const now = useNow(5000);
  const [incidents, setIncidents] = useState<IncidentSummary[]>([]);
  const [units, setUnits] = useState<Unit[] | null>(null);
  const [hospitals, setHospitals] = useState<Hospital[] | null>(null);
  const [roads, setRoads] = useState<FeatureCollection | null>(null);
  const [roadsMissing, setRoadsMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const loadIncidents = useCallback(async () => {
    const qs = OPEN_STATUSES.map((s) => `status=${s}`).join("&");
    try {
      const page = await api.get<IncidentPage>(`/api/incidents?${qs}&limit=200`);
      setIncidents(page.items);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [api]);
  const loadUnits = useCallback(async () => {
    setUnits(await endpoints.units(api).catch(() => null));
  }, [api]);
  const loadHospitals = useCallback(async () => {
    setHospitals(await endpoints.hospitals(api).catch(() => null));
  }, [api]);
  const refetchAll = useCallback(() => {
    void loadIncidents();
    void loadUnits();
    void loadHospitals();
  }, [loadIncidents, loadUnits, loadHospitals]);

  useEffect(refetchAll, [refetchAll]);
  useResync(refetchAll);
  useChannel("incidents", () => void loadIncidents());
  // Unit events carry changes, not whole units: refetch the (short) list.
  useChannel(can("units:read") ? "units" : null, () => void loadUnits());
  useChannel(can("hospitals:read") ? "hospitals" : null, () => void loadHospitals());

  const roadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onViewport = useCallback(
    (bbox: [number, number, number, number]) => {
      clearTimeout(roadTimer.current);
      roadTimer.current = setTimeout(() => {
        endpoints.roads(api, bbox).then(
          (fc) => {
            setRoads(fc);
            setRoadsMissing(false);
          },
          () => setRoadsMissing(true),
        );
      }, 150);
    },
    [api],
  );

  const [bounds, setBounds] = useState<number[] | null>(null);
  useEffect(() => {
    if (can("map:read")) endpoints.mapInfo(api).then((m) => setBounds(m.bbox), () => undefined);
  }, [api, can]);

  const sorted = useMemo(() => incidents.slice().sort(byAcuityThenWaiting), [incidents]);
  const selected = incidents.find((i) => i.id === incidentId) ?? null;
  const [route, setRoute] = useState<LineStringGeometry | null>(null);

  const points = useMemo<MapPoint[]>(() => {
    const pts: MapPoint[] = [];
    for (const i of incidents) {
      if (i.lat != null && i.lon != null)
        pts.push({
          id: i.id,
          lat: i.lat,
          lon: i.lon,
          kind: "incident",
          label: `#${i.number} P${i.priority} ${i.chief_complaint}`,
          tone: PRIORITY_TONE[i.priority],
          selected: i.id === incidentId,
        });
    }
    for (const u of units ?? [])
      pts.push({
        id: u.id,
        // Without a GPS fix a unit is shown at its station (where its ETA is computed from).
        lat: u.lat ?? u.station_lat,
        lon: u.lon ?? u.station_lon,
        kind: "unit",
        label: `${u.call_sign} (${u.status.replace(/_/g, " ")}${u.lat == null ? ", at station" : ""})`,
      });
    for (const h of hospitals ?? [])
      pts.push({
          id: h.id,
          lat: h.lat,
          lon: h.lon,
          kind: "hospital",
          label: `${h.name}${h.diversion ? " — ON DIVERSION" : ""}`,
        });
    return pts;
  }, [incidents, units, hospitals, incidentId]);

  return (
    <div className="dispatch">
      <section className="panel queue" aria-labelledby="queue-title">
        <h2 id="queue-title">Incident queue ({sorted.length})</h2>
        {error && <p role="alert" className="error">{error}</p>}
        {can("incidents:write") && <NewIncident onCreated={(id) => { void loadIncidents(); void navigate(`/dispatch/${id}`); }} />}
        <ol className="list" data-testid="incident-queue">
          {sorted.map((i) => (
            <li key={i.id}>
              <button
                type="button"
                className={`row${i.id === incidentId ? " selected" : ""}`}
                aria-current={i.id === incidentId ? "true" : undefined}
                onClick={() => void navigate(`/dispatch/${i.id}`)}
              >
                <span className={`prio prio-${i.priority}`}>P{i.priority}</span>
                <span className="grow">
                  <strong>#{i.number}</strong> {i.chief_complaint}
                  <br />
                  <span className="muted">
                    {i.status.replace(/_/g, " ")} · waiting {ago(now - Date.parse(i.created_at))}
                    {i.address ? ` · ${i.address}` : ""}
                  </span>
                </span>
              </button>
            </li>
          ))}
          {sorted.length === 0 && <li className="muted">No open incidents.</li>}
        </ol>
      </section>
      <section className="panel mapbox" aria-label="Map">
        <MapView
          roads={roads}
          bounds={bounds}
          points={points}
          route={route}
          onViewport={onViewport}
          onSelect={(id, kind) => {
            if (kind === "incident") void navigate(`/dispatch/${id}`);
          }}
        />
        {roadsMissing && (
          <p className="muted small">Road network could not be loaded (is a map configured? see EMSYNC_MAP_PBF).</p>
        )}
        <p className="legend small">
          <span className="key key-incident" /> incident <span className="key key-unit" /> unit{" "}
          <span className="key key-hospital" /> hospital <span className="key key-route" /> route
        </p>
      </section>
      <section className="panel side" aria-label="Selected incident and units">
        {selected ? (
          <IncidentPanel key={selected.id} summary={selected} onRoute={setRoute} onChanged={refetchAll} />
        ) : (
          <p className="muted">Select an incident in the queue to see recommendations.</p>
        )}
        <h2>Units</h2>
        {units === null ? (
          <p className="muted" data-testid="units-missing">Units could not be loaded.</p>
        ) : (
          <ul className="list" data-testid="units">
            {units.map((u) => (
              <li key={u.id} className="unit">
                <strong>{u.call_sign}</strong> <span className={`status status-${u.status}`}>{u.status.replace(/_/g, " ")}</span>
                {u.incident_id && <span className="muted small"> · incident {incidents.find((i) => i.id === u.incident_id)?.number ?? ""}</span>}
              </li>
            ))}
            {units.length === 0 && <li className="muted">No units.</li>}
          </ul>
        )}
      </section>
    </div>
  );
}

function IncidentPanel({
  summary,
  onRoute,
  onChanged,
}: {
  summary: IncidentSummary;
  onRoute: (r: LineStringGeometry | null) => void;
  onChanged: () => void;
}) {
  const { api, can } = useApp();
  const [incident, setIncident] = useState<IncidentRead | null>(null);
  const [recs, setRecs] = useState<RecommendationRead | null | undefined>(undefined);
  const [dests, setDests] = useState<DestinationRecommendation | null>(null);
  const [unitId, setUnitId] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [recError, setRecError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setIncident(await api.get<IncidentRead>(`/api/incidents/${summary.id}`));
    if (can("units:read")) {
      try {
        const r = await endpoints.recommendation(api, summary.id);
        setRecs(r);
        setRecError(null);
        setUnitId((prev) => prev ?? r.ranked[0]?.unit_id ?? null);
      } catch (e) {
        setRecs(null);
        setRecError(e instanceof ApiError ? e.message : "Recommendations could not be loaded");
      }
    }
    if (can("hospitals:read")) setDests(await endpoints.destinations(api, summary.id).catch(() => null));
  }, [api, can, summary.id]);

  useEffect(() => {
    void load();
  }, [load, summary.updated_at]);

  // The route of the chosen (or assigned) unit to the incident, drawn on the map.
  useEffect(() => {
    if (!unitId || !can("map:read")) {
      onRoute(null);
      return;
    }
    let live = true;
    endpoints.route(api, unitId, summary.id).then(
      (f) => {
        if (!live) return;
        const geometry = f.geometry ?? (f.coordinates ? { type: "LineString" as const, coordinates: f.coordinates } : null);
        onRoute(geometry);
      },
      () => live && onRoute(null),
    );
    return () => {
      live = false;
    };
  }, [api, can, unitId, summary.id, summary.updated_at, onRoute]);
  useEffect(() => () => onRoute(null), [onRoute]);

  async function assign() {
    if (!unitId) return;
    setMessage(null);
    try {
      const a = await endpoints.assign(api, summary.id, unitId);
      setMessage(`${a.unit.call_sign} assigned${a.eta_s != null ? `, ETA ${etaText(a.eta_s)}` : ""}.`);
      onChanged();
      void load();
    } catch (e) {
      setMessage(e instanceof ApiError ? `Not assigned: ${e.message}` : "Not assigned.");
    }
  }

  const assignable = summary.status === "new" || summary.status === "triaged";

  return (
    <div data-testid="incident-panel">
      <h2>
        #{summary.number} · P{summary.priority} · {summary.status.replace(/_/g, " ")}
      </h2>
      <p>{summary.chief_complaint}</p>
      {incident && (
        <p className="muted small">
          {incident.address ?? `${incident.lat ?? ""}, ${incident.lon ?? ""}`} · {incident.patients.length} patient(s)
        </p>
      )}
      {can("triage:run") && (
        <p>
          <Link to={`/triage/${summary.id}`}>Triage this incident</Link>
        </p>
      )}
      <h3>Recommended units</h3>
      {recs === undefined && can("units:read") && <p className="muted">Loading…</p>}
      {recError && <p className="muted" data-testid="recs-missing">{recError}</p>}
      {recs && (
        <fieldset className="recs" data-testid="unit-recs">
          <legend className="sr-only">Unit</legend>
          <p className="muted small">
            Urgency {recs.urgency}
            {recs.als_required ? " · ALS required" : ""}
          </p>
          {recs.ranked.map((r) => (
            <label key={r.unit_id} className="rec">
              <input
                type="radio"
                name="unit"
                checked={unitId === r.unit_id}
                disabled={!assignable}
                onChange={() => setUnitId(r.unit_id)}
              />
              <span>
                <strong>
                  {r.rank}. {r.call_sign}
                </strong>{" "}
                ({r.unit_type}) ETA {r.eta_s != null ? etaText(r.eta_s) : "unknown"}
                <br />
                <span className="muted small">{r.reason}</span>
              </span>
            </label>
          ))}
          {recs.ranked.length === 0 && <p className="muted">No unit can be sent.</p>}
          {recs.excluded.length > 0 && (
            <details>
              <summary>{recs.excluded.length} unit(s) not eligible</summary>
              <ul className="small">
                {recs.excluded.map((r) => (
                  <li key={r.unit_id}>
                    {r.call_sign}: {r.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </fieldset>
      )}
      {recs && can("dispatch:assign") && assignable && (
        <button type="button" className="primary" disabled={!unitId} onClick={() => void assign()}>
          Assign {recs.ranked.find((r) => r.unit_id === unitId)?.call_sign ?? "unit"}
        </button>
      )}
      {message && <p role="status" data-testid="assign-message">{message}</p>}
      {dests && (
        <>
          <h3>Recommended hospitals</h3>
          {dests.required.length > 0 && <p className="muted small">Needs: {dests.required.join(", ")}</p>}
          <ol className="list small" data-testid="hospital-recs">
            {dests.ranked.slice(0, 5).map((d) => (
              <li key={d.hospital_id} className="rec">
                <span>
                  <strong>
                    {d.rank}. {d.name}
                  </strong>{" "}
                  ETA {d.eta_s != null ? etaText(d.eta_s) : "unknown"}
                  <br />
                  <span className="muted">{d.reason}</span>
                </span>
              </li>
            ))}
            {dests.ranked.length === 0 && <li className="muted">No suitable hospital.</li>}
          </ol>
        </>
      )}
    </div>
  );
}

function NewIncident({ onCreated }: { onCreated: (id: string) => void }) {
  const { api } = useApp();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ chief_complaint: "", priority: "3", address: "", lat: "", lon: "" });
  const [placed, setPlaced] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);

  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    setErrors({});
    setError(null);
    const body: IncidentCreate = {
      chief_complaint: form.chief_complaint,
      priority: Number(form.priority),
      address: form.address || null,
      lat: form.lat ? Number(form.lat) : null,
      lon: form.lon ? Number(form.lon) : null,
      callback_number: null,
    };
    try {
      const created = await api.post<IncidentRead>("/api/incidents", body);
      setForm({ chief_complaint: "", priority: "3", address: "", lat: "", lon: "" });
      setPlaced(null);
      setOpen(false);
      onCreated(created.id);
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(err.fields);
        setError(err.message);
      } else setError("Could not create the incident");
    }
  }

  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  if (!open)
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        New incident
      </button>
    );
  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="New incident">
      <label>
        Chief complaint
        <input name="chief_complaint" required autoFocus value={form.chief_complaint} onChange={set("chief_complaint")} />
        {errors.chief_complaint && <span className="error">{errors.chief_complaint}</span>}
      </label>
      <label>
        Priority (1 most urgent)
        <select name="priority" value={form.priority} onChange={set("priority")}>
          {[1, 2, 3, 4, 5].map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <label>
        Address
        <AddressSearch
          value={form.address}
          onChange={(address) => setForm((f) => ({ ...f, address }))}
          onPick={(hit) => {
            // The position of the chosen place; the address stays as the dispatcher typed it.
            setForm((f) => ({ ...f, lat: hit.lat.toFixed(6), lon: hit.lon.toFixed(6) }));
            setPlaced(hit.note ? `${hit.label} (${hit.note})` : hit.label);
          }}
        />
      </label>
      {placed && (
        <p className="placed" role="status" data-testid="placed">
          Placed at: {placed}
        </p>
      )}
      <div className="row2">
        <label>
          Latitude
          <input name="lat" inputMode="decimal" value={form.lat} onChange={set("lat")} />
          {errors.lat && <span className="error">{errors.lat}</span>}
        </label>
        <label>
          Longitude
          <input name="lon" inputMode="decimal" value={form.lon} onChange={set("lon")} />
          {errors.lon && <span className="error">{errors.lon}</span>}
        </label>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <div className="actions">
        <button type="submit" className="primary">
          Create incident
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
