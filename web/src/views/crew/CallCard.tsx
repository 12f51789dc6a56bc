/* The call the unit is on: what, where (the address in large type), who, and the road route
 * with its ETA on the map — to the scene, or to the chosen hospital once transporting. */
import { useMemo } from "react";
import type { LineStringGeometry } from "../../api/endpoints";
import type { CrewAssignment, HospitalRead } from "../../api/types";
import { MapView, type MapPoint } from "../../components/MapView";
import { clock } from "../../lib/handoff";
import { etaText } from "../../lib/time";

export function CallCard({
  view,
  hospitals,
  destination,
  stale,
}: {
  view: CrewAssignment;
  hospitals: HospitalRead[];
  destination: string | null;
  /** Why the route may no longer be the unit's (offline, a status tap not yet sent), and the
   * time the server last gave it; null when it is current. */
  stale: { since: string; why: string } | null;
}) {
  const incident = view.incident;
  const unit = view.unit;
  const route = (view.route?.geometry as LineStringGeometry | undefined) ?? null;
  const points = useMemo(() => {
    // Without a GPS fix the unit is where its route starts (the station, or the scene once
    // it reported itself there).
    const start = route?.coordinates[0];
    const [lon, lat] = unit.lat != null && unit.lon != null ? [unit.lon, unit.lat] : (start ?? [unit.station_lon, unit.station_lat]);
    const out: MapPoint[] = [{ id: unit.id, kind: "unit", label: unit.call_sign, lat, lon }];
    if (incident?.lat != null && incident.lon != null)
      out.push({ id: incident.id, kind: "incident", label: incident.chief_complaint, lat: incident.lat, lon: incident.lon });
    const h = hospitals.find((x) => x.id === destination);
    if (h) out.push({ id: h.id, kind: "hospital", label: h.name, lat: h.lat, lon: h.lon });
    return out;
  }, [unit, incident, hospitals, destination, route]);
  if (!incident) return null;
  return (
    <section className="card crew-section" aria-labelledby="crew-call" data-testid="crew-call">
      <h2 id="crew-call">
        #{incident.number} · P{incident.priority} · {incident.chief_complaint}
      </h2>
      <p className="crew-address" data-testid="crew-address">
        {incident.address ?? (incident.lat != null ? `${incident.lat.toFixed(5)}, ${incident.lon?.toFixed(5)}` : "No address yet")}
      </p>
      {incident.patients.length > 0 && (
        <p className="small">
          {incident.patients
            .map((p) => [p.label, p.name, p.age_years != null ? `${p.age_years} y` : null, p.sex, p.acuity ? `KTAS ${p.acuity}` : null].filter(Boolean).join(" · "))
            .join("; ")}
        </p>
      )}
      {view.route ? (
        <p className="crew-eta" data-testid="crew-eta">
          ETA {etaText(view.route.eta_s)} · {(view.route.distance_m / 1000).toFixed(1)} km to the{" "}
          {view.route.to === "hospital" ? "hospital" : "scene"}
        </p>
      ) : (
        <p className="muted small">No route: {view.route_problem ?? "unknown"}</p>
      )}
      {stale && (
        // The route and ETA are the server's (road graph, unit position): without it they stay
        // as they were, so say since when, instead of showing an old leg as if it were live.
        <p className="warn small" role="status" data-testid="crew-route-stale">
          Route and ETA as of {clock(stale.since)}: {stale.why}.
        </p>
      )}
      <div className="crew-map">
        {/* A new leg (scene, then hospital) is a new map, fitted to its ends. */}
        <MapView key={view.route?.to ?? "none"} roads={null} points={points} route={route} />
      </div>
    </section>
  );
}
