import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { endpoints, type FeatureCollection, type LineStringGeometry } from "../api/endpoints";
import type {
  DestinationRecommendation,
  HospitalRead as Hospital,
  IncidentPage,
  IncidentRead,
  IncidentSummary,
  RecommendationRead,
  UnitRead as Unit,
} from "../api/types";
import { useApp, useChannel, useNow, useResync } from "../app/context";
import { useSubmit } from "../app/useSubmit";
import { pendingFrom, settled, shownStatus, unitsOn, type PendingAssignment } from "../lib/assignment";
import { applyPushed, incidentsChannel } from "../lib/live";
import { MapView, type MapPoint } from "../components/MapView";
import { OPEN_STATUSES, byAcuityThenWaiting } from "../lib/queue";
import { ago, etaText } from "../lib/time";
import { Findings, NeedsList } from "./dispatch/Findings";
import { HandoffEditor } from "./dispatch/HandoffEditor";
import { CloseOrCancel, Patients } from "./dispatch/IncidentControls";
import { NewIncident } from "./dispatch/NewIncident";
import { UnitActions } from "./dispatch/UnitActions";

/** An open incident on the board: as the list returns it, or as a push brought it (IncidentRead
 * has every field the board shows; the patient count is the list's alone and not shown). */
type BoardIncident = Omit<IncidentSummary, "patient_count">;

/** Where a click on the map goes: the new-call form's position, or the selected incident's. */
type Pick = ((lat: number, lon: number) => void) | null;

const PRIORITY_TONE = ["", "#8e0000", "#c0392b", "#e67e22", "#f1c40f", "#2e7d32"];

export function Dispatch() {
  const { api, can, me } = useApp();
  const { incidentId } = useParams();
  const navigate = useNavigate();
  const now = useNow(5000);
  const [incidents, setIncidents] = useState<BoardIncident[]>([]);
  const [units, setUnits] = useState<Unit[] | null>(null);
  const [hospitals, setHospitals] = useState<Hospital[] | null>(null);
  const [roads, setRoads] = useState<FeatureCollection | null>(null);
  const [roadsMissing, setRoadsMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

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
  // A changed incident arrives whole (IncidentRead): on the board while open, off it once closed.
  useChannel(incidentsChannel(me), (m) => {
    if (m.type !== "incident") return;
    const incident = m.data as IncidentRead;
    const open = (OPEN_STATUSES as readonly string[]).includes(incident.status);
    setIncidents((list) => applyPushed(list, incident, open));
  });
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
  const [pick, setPick] = useState<{ fn: Pick }>({ fn: null });
  const [newPin, setNewPin] = useState<{ lat: number; lon: number } | null>(null);
  const newIncidentPick = useCallback((on: boolean) => {
    setNewPin(null);
    setPick({ fn: on ? (lat, lon) => setNewPin({ lat, lon }) : null });
  }, []);
  const incidentPick = useCallback((fn: Pick) => setPick({ fn }), []);
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
    if (newPin)
      pts.push({ id: "new-incident", lat: newPin.lat, lon: newPin.lon, kind: "incident", label: "New incident here", selected: true });
    return pts;
  }, [incidents, units, hospitals, incidentId, newPin]);

  return (
    <div className="dispatch">
      <section className="panel queue" aria-labelledby="queue-title">
        <h2 id="queue-title">Incident queue ({sorted.length})</h2>
        {error && <p role="alert" className="error">{error}</p>}
        {can("incidents:write") && (
          <NewIncident
            picked={newPin}
            onPickMode={newIncidentPick}
            onCreated={(id) => {
              void loadIncidents();
              void navigate(`/dispatch/${id}`);
            }}
          />
        )}
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
          picking={pick.fn !== null}
          onPick={(lat, lon) => pick.fn?.(lat, lon)}
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
          <IncidentPanel
            key={selected.id}
            summary={selected}
            units={units ?? []}
            hospitals={hospitals ?? []}
            onRoute={setRoute}
            onPick={incidentPick}
            onChanged={refetchAll}
            onFinished={(text) => {
              setNotice(text);
              void navigate("/dispatch");
            }}
          />
        ) : (
          <>
            {notice && (
              <p role="status" data-testid="dispatch-notice">
                {notice}
              </p>
            )}
            <p className="muted">Select an incident in the queue to see recommendations.</p>
          </>
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
  units,
  hospitals,
  onRoute,
  onPick,
  onChanged,
  onFinished,
}: {
  summary: BoardIncident;
  units: Unit[];
  hospitals: Hospital[];
  onRoute: (r: LineStringGeometry | null) => void;
  onPick: (fn: Pick) => void;
  onChanged: () => void;
  onFinished: (text: string) => void;
}) {
  const { api, can } = useApp();
  const submit = useSubmit();
  const [incident, setIncident] = useState<IncidentRead | null>(null);
  const [recs, setRecs] = useState<RecommendationRead | null | undefined>(undefined);
  const [dests, setDests] = useState<DestinationRecommendation | null>(null);
  const [unitId, setUnitId] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [recError, setRecError] = useState<string | null>(null);
  const [pending, setPending] = useState<PendingAssignment | null>(null);
  const status = shownStatus(summary.status, pending);
  const onIncident = unitsOn(summary.id, units, pending);
  useEffect(() => {
    if (pending && settled(summary.status, units, pending)) setPending(null);
  }, [pending, summary.status, units]);
  const [destination, setDestination] = useState<string | null>(null);
  const chosenHospital = destination ?? onIncident.find((u) => u.hospital_id)?.hospital_id ?? null;
  const [placing, setPlacing] = useState(false);

  const load = useCallback(async () => {
    setIncident(await api.get<IncidentRead>(`/api/incidents/${summary.id}`));
    if (can("units:read") && (summary.status === "new" || summary.status === "triaged")) {
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
  }, [api, can, summary.id, summary.status]);

  // "Place on map": the next click on the map is where this incident is.
  useEffect(() => {
    if (!placing) {
      onPick(null);
      return;
    }
    onPick((lat, lon) => {
      setPlacing(false);
      api.patch<IncidentRead>(`/api/incidents/${summary.id}`, { lat, lon }).then(
        () => {
          setMessage(`Incident #${summary.number} placed on the map.`);
          onChanged();
        },
        (e: unknown) => setMessage(e instanceof ApiError ? `Not placed: ${e.message}` : "Not placed"),
      );
    });
    return () => onPick(null);
  }, [placing, onPick, api, summary.id, summary.number, onChanged]);

  useEffect(() => {
    void load();
  }, [load, summary.updated_at]);

  // The route of the chosen (or assigned) unit, drawn on the map: to the scene, then, once it
  // transports the patient, from the scene to the hospital it chose (the crew's own route).
  const routeUnit = onIncident[0]?.id ?? unitId;
  const carried = onIncident.find((u) => u.id === routeUnit);
  const toHospital =
    carried && (carried.status === "transporting" || carried.status === "at_hospital") ? (carried.hospital_id ?? null) : null;
  useEffect(() => {
    const unitId = routeUnit;
    if (!unitId || !can("map:read") || summary.lat == null) {
      onRoute(null);
      return;
    }
    let live = true;
    endpoints.route(api, unitId, toHospital ? { hospitalId: toHospital } : { incidentId: summary.id }).then(
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
  }, [api, can, routeUnit, toHospital, summary.id, summary.lat, summary.updated_at, onRoute]);
  useEffect(() => () => onRoute(null), [onRoute]);

  async function assign() {
    if (!unitId) return;
    await submit.run(async (api) => {
      setMessage(null);
      try {
        const a = await endpoints.assign(api, summary.id, unitId);
        setPending(pendingFrom(summary.status, a));
        setMessage(`${a.unit.call_sign} assigned${a.eta_s != null ? `, ETA ${etaText(a.eta_s)}` : ""}.`);
        onChanged();
        void load();
      } catch (e) {
        setMessage(e instanceof ApiError ? `Not assigned: ${e.message}` : "Not assigned.");
      }
    });
  }

  const assignable = status === "new" || status === "triaged";

  const hospitalName = (id: string | null) => hospitals.find((h) => h.id === id)?.name ?? null;
  const patientId = incident?.patients[0]?.id ?? null;
  const closed = status === "closed" || status === "cancelled";

  return (
    <div data-testid="incident-panel">
      <h2>
        #{summary.number} · P{summary.priority} · {status.replace(/_/g, " ")}
      </h2>
      <p>{summary.chief_complaint}</p>
      {incident && (
        <p className="muted small">
          {incident.address ?? ""}
          {incident.lat != null ? ` (${incident.lat.toFixed(5)}, ${incident.lon?.toFixed(5)})` : " · no map position yet"} ·{" "}
          {incident.patients.length} patient(s)
        </p>
      )}
      {can("incidents:write") && !closed && (
        <p>
          <button type="button" className={summary.lat == null ? "primary" : ""} aria-pressed={placing} onClick={() => setPlacing((p) => !p)}>
            {placing ? "Click the map… (cancel)" : summary.lat == null ? "Place on map" : "Move on map"}
          </button>
        </p>
      )}
      {incident && <Patients incident={incident} onChanged={() => void load()} />}
      {can("triage:run") && !closed && (
        <p>
          <Link to={`/triage/${summary.id}`}>Triage this incident</Link>
        </p>
      )}
      {assignable && (
        <>
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
      {recs && can("dispatch:assign") && (
        <button type="button" className="primary" disabled={!unitId || submit.busy} aria-busy={submit.busy} onClick={() => void assign()}>
          Assign {recs.ranked.find((r) => r.unit_id === unitId)?.call_sign ?? "unit"}
        </button>
      )}
        </>
      )}
      {message && <p role="status" data-testid="assign-message">{message}</p>}
      {!assignable && !closed && (
        <>
          <h3>Units on this incident</h3>
          <UnitActions
            units={onIncident}
            hospitalId={chosenHospital}
            hospitalName={hospitalName(chosenHospital)}
            onChanged={onChanged}
          />
        </>
      )}
      {incident && !closed && <Findings incident={incident} onSaved={() => void load()} />}
      {dests && !closed && (
        <fieldset className="recs" data-testid="hospital-recs">
          <legend>Destination</legend>
          <NeedsList dests={dests} />
          {dests.ranked.slice(0, 5).map((d) => (
            <label key={d.hospital_id} className="rec">
              <input
                type="radio"
                name="destination"
                checked={chosenHospital === d.hospital_id}
                onChange={() => setDestination(d.hospital_id)}
              />
              <span>
                <strong>
                  {d.rank}. {d.name}
                </strong>{" "}
                ETA {d.eta_s != null ? etaText(d.eta_s) : "unknown"}
                <br />
                <span className="muted small">{d.reason}</span>
              </span>
            </label>
          ))}
          {dests.ranked.length === 0 && <p className="muted">No suitable hospital.</p>}
          {dests.excluded.length > 0 && (
            <details>
              <summary>{dests.excluded.length} hospital(s) not suitable</summary>
              <ul className="small">
                {dests.excluded.map((d) => (
                  <li key={d.hospital_id}>
                    {d.name}: {d.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </fieldset>
      )}
      {incident && !closed && !assignable && (
        <>
          <h3>Handoff</h3>
          <HandoffEditor
            incidentId={summary.id}
            patientId={patientId}
            unitId={onIncident[0]?.id ?? null}
            hospitalId={chosenHospital}
            hospitalName={hospitalName(chosenHospital)}
          />
        </>
      )}
      {incident && <CloseOrCancel incident={incident} onChanged={onChanged} onFinished={onFinished} />}
    </div>
  );
}
