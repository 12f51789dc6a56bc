/* An admin's set-up map: new ambulances (units and their stations) and hospitals, placed by a
 * click on the map. Editing them is on the Units and Hospitals tabs; people on People & roles. */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { ApiError } from "../../api/client";
import { endpoints } from "../../api/endpoints";
import type { HospitalCreate, HospitalRead, UnitCreate, UnitRead } from "../../api/types";
import { useApp } from "../../app/context";
import { MapView, type MapPoint } from "../../components/MapView";
import { Field, useSubmit } from "./common";

type Target = "unit" | "hospital";

export function Places() {
  const { api } = useApp();
  const [units, setUnits] = useState<UnitRead[]>([]);
  const [hospitals, setHospitals] = useState<HospitalRead[]>([]);
  const [bounds, setBounds] = useState<number[] | null>(null);
  const [target, setTarget] = useState<Target>("unit");
  const [picked, setPicked] = useState<{ lat: number; lon: number } | null>(null);

  const reload = useCallback(() => {
    endpoints.units(api).then(setUnits, () => undefined);
    endpoints.hospitals(api).then(setHospitals, () => undefined);
  }, [api]);
  useEffect(reload, [reload]);
  // A created unit or hospital takes the picked position: the next one needs its own click.
  const placed = useCallback(() => {
    setPicked(null);
    reload();
  }, [reload]);
  useEffect(() => {
    endpoints.mapInfo(api).then((m) => setBounds(m.bbox), () => undefined);
  }, [api]);

  const points: MapPoint[] = [
    ...units.map((u) => ({ id: u.id, lat: u.station_lat, lon: u.station_lon, kind: "unit" as const, label: `${u.call_sign} · ${u.station_name ?? "station"}` })),
    ...hospitals.map((h) => ({ id: h.id, lat: h.lat, lon: h.lon, kind: "hospital" as const, label: h.name })),
    ...(picked ? [{ id: "picked", lat: picked.lat, lon: picked.lon, kind: target === "unit" ? ("unit" as const) : ("hospital" as const), label: "New position", selected: true }] : []),
  ];

  return (
    <div className="admin">
      <section className="panel" aria-labelledby="admin-map">
        <h2 id="admin-map">Stations and hospitals</h2>
        <p className="muted small">Click the map to place the new {target === "unit" ? "unit's station" : "hospital"}.</p>
        <MapView roads={null} bounds={bounds} points={points} route={null} picking onPick={(lat, lon) => setPicked({ lat, lon })} />
      </section>
      <section className="panel" aria-label="Create">
        <UnitForm picked={picked} onFocus={() => setTarget("unit")} onCreated={placed} />
        <HospitalForm picked={picked} onFocus={() => setTarget("hospital")} onCreated={placed} />
      </section>
      <section className="panel" aria-label="Register">
        <h2>Units ({units.length})</h2>
        <ul className="list small" data-testid="admin-units">
          {units.map((u) => (
            <li key={u.id}>
              <strong>{u.call_sign}</strong> {u.unit_type} · {u.station_name ?? "—"} · {u.status.replace(/_/g, " ")}
            </li>
          ))}
        </ul>
        <h2>Hospitals ({hospitals.length})</h2>
        <ul className="list small" data-testid="admin-hospitals">
          {hospitals.map((h) => (
            <li key={h.id}>
              <strong>{h.name}</strong> {servicesText(h)}
              {h.ed_beds_available != null ? ` · ${h.ed_beds_available} ED beds free` : ""}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/** What the hospital offers, in the words of the form that created it (not capability ids). */
function servicesText(h: HospitalRead): string {
  const services = [
    h.trauma_level != null ? `trauma level ${h.trauma_level}` : null,
    h.stroke_centre ? "stroke centre" : null,
    h.pci ? "PCI lab" : null,
    h.burns ? "burns unit" : null,
    h.paediatrics ? "paediatric emergency care" : null,
  ].filter(Boolean);
  return services.join(", ") || "no specialist services";
}

function UnitForm({ picked, onFocus, onCreated }: { picked: { lat: number; lon: number } | null; onFocus: () => void; onCreated: () => void }) {
  const [form, setForm] = useState({ call_sign: "", unit_type: "ALS", station_name: "", crew: "" });
  const { message, errors, run, busy } = useSubmit(onCreated);
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    if (!picked) return void run(() => Promise.reject(new ApiError(422, "Click the map where the station is.")), "");
    const body: UnitCreate = {
      call_sign: form.call_sign,
      unit_type: form.unit_type as UnitCreate["unit_type"],
      station_name: form.station_name || null,
      station_lat: picked.lat,
      station_lon: picked.lon,
      crew: form.crew.split(",").map((s) => s.trim()).filter(Boolean),
    };
    if (await run((api) => api.post("/api/units", body), `Unit ${form.call_sign} created.`))
      setForm({ call_sign: "", unit_type: "ALS", station_name: "", crew: "" });
  }
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form aria-busy={busy} className="form card" aria-label="New unit" onFocus={onFocus} onSubmit={(e) => void submit(e)}>
      <h2>New unit</h2>
      <Field label="Call sign" error={errors.call_sign}>
        <input name="unit-call-sign" required value={form.call_sign} onChange={set("call_sign")} />
      </Field>
      <div className="row2">
        <Field label="Type">
          <select name="unit-type" value={form.unit_type} onChange={set("unit_type")}>
            <option value="ALS">ALS (advanced)</option>
            <option value="BLS">BLS (basic)</option>
          </select>
        </Field>
        <Field label="Station">
          <input name="unit-station" value={form.station_name} onChange={set("station_name")} />
        </Field>
      </div>
      <Field label="Crew (comma-separated)">
        <input name="unit-crew" value={form.crew} onChange={set("crew")} />
      </Field>
      <p className="muted small">Station position: {picked ? `${picked.lat.toFixed(5)}, ${picked.lon.toFixed(5)}` : "click the map"}</p>
      <button type="submit" disabled={busy} className="primary">
        Create unit
      </button>
      {message && <p role="status">{message}</p>}
    </form>
  );
}

function HospitalForm({ picked, onFocus, onCreated }: { picked: { lat: number; lon: number } | null; onFocus: () => void; onCreated: () => void }) {
  const blank = { name: "", trauma_level: "", beds: "", stroke_centre: false, pci: false, burns: false, paediatrics: false };
  const [form, setForm] = useState(blank);
  const { message, errors, run, busy } = useSubmit(onCreated);
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    if (!picked) return void run(() => Promise.reject(new ApiError(422, "Click the map where the hospital is.")), "");
    const body: HospitalCreate = {
      name: form.name,
      lat: picked.lat,
      lon: picked.lon,
      emergency_department: true,
      trauma_level: form.trauma_level ? Number(form.trauma_level) : null,
      stroke_centre: form.stroke_centre,
      pci: form.pci,
      burns: form.burns,
      paediatrics: form.paediatrics,
      ed_beds_available: form.beds ? Number(form.beds) : null,
    };
    if (await run((api) => api.post("/api/hospitals", body), `Hospital ${form.name} created.`)) setForm(blank);
  }
  const check = (k: "stroke_centre" | "pci" | "burns" | "paediatrics", label: string) => (
    <label className="check">
      <input type="checkbox" name={`hospital-${k}`} checked={form[k]} onChange={(e) => setForm((f) => ({ ...f, [k]: e.target.checked }))} />
      {label}
    </label>
  );
  return (
    <form aria-busy={busy} className="form card" aria-label="New hospital" onFocus={onFocus} onSubmit={(e) => void submit(e)}>
      <h2>New hospital</h2>
      <Field label="Name" error={errors.name}>
        <input name="hospital-name" required value={form.name} onChange={(e) => setForm((f) => ({ ...f, name: e.target.value }))} />
      </Field>
      <div className="row2">
        <Field label="Trauma level" error={errors.trauma_level}>
          <select name="hospital-trauma" value={form.trauma_level} onChange={(e) => setForm((f) => ({ ...f, trauma_level: e.target.value }))}>
            <option value="">not a trauma centre</option>
            {[1, 2, 3, 4].map((l) => (
              <option key={l} value={l}>
                level {l}
              </option>
            ))}
          </select>
        </Field>
        <Field label="ED beds free" error={errors.ed_beds_available}>
          <input name="hospital-beds" inputMode="numeric" value={form.beds} onChange={(e) => setForm((f) => ({ ...f, beds: e.target.value }))} />
        </Field>
      </div>
      {check("stroke_centre", "Stroke centre")}
      {check("pci", "PCI lab (STEMI)")}
      {check("burns", "Burns unit")}
      {check("paediatrics", "Paediatric emergency care")}
      <p className="muted small">Position: {picked ? `${picked.lat.toFixed(5)}, ${picked.lon.toFixed(5)}` : "click the map"}</p>
      <button type="submit" disabled={busy} className="primary">
        Create hospital
      </button>
      {message && <p role="status">{message}</p>}
    </form>
  );
}
