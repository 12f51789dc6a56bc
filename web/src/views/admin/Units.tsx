/* Units and their stations: call sign, type, station (name and position: click the map), crew,
 * and the GPS or monitor device that reports for the unit. */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { endpoints } from "../../api/endpoints";
import type { UnitRead } from "../../api/types";
import { useApp } from "../../app/context";
import { MapView, type MapPoint } from "../../components/MapView";
import { Field, Status, useSubmit } from "./common";

export function Units() {
  const { api } = useApp();
  const [units, setUnits] = useState<UnitRead[]>([]);
  const [bounds, setBounds] = useState<number[] | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [picked, setPicked] = useState<{ lat: number; lon: number } | null>(null);
  const reload = useCallback(() => void endpoints.units(api).then(setUnits, () => undefined), [api]);
  useEffect(reload, [reload]);
  useEffect(() => void endpoints.mapInfo(api).then((m) => setBounds(m.bbox), () => undefined), [api]);
  const current = units.find((u) => u.id === editing) ?? null;
  const points: MapPoint[] = [
    ...units.map((u) => ({ id: u.id, lat: u.station_lat, lon: u.station_lon, kind: "unit" as const, label: `${u.call_sign} · ${u.station_name ?? "station"}`, selected: u.id === editing && !picked })),
    ...(picked ? [{ id: "picked", lat: picked.lat, lon: picked.lon, kind: "unit" as const, label: "New station position", selected: true }] : []),
  ];
  return (
    <div className="admin">
      <section className="panel" aria-labelledby="units-map">
        <h2 id="units-map">Stations</h2>
        <p className="muted small">{current ? `Click the map to move ${current.call_sign}'s station.` : "Choose a unit to edit."}</p>
        <MapView roads={null} bounds={bounds} points={points} route={null} picking={current !== null} onPick={(lat, lon) => setPicked({ lat, lon })} />
      </section>
      <section className="panel" aria-labelledby="units-title">
        <h2 id="units-title">Units ({units.length})</h2>
        <table className="table" data-testid="admin-units">
          <thead>
            <tr>
              <th scope="col">Unit</th>
              <th scope="col">Station</th>
              <th scope="col">Status</th>
              <th scope="col"><span className="sr-only">Edit</span></th>
            </tr>
          </thead>
          <tbody>
            {units.map((u) => (
              <tr key={u.id} className={u.id === editing ? "current" : undefined}>
                <td>
                  <strong>{u.call_sign}</strong> {u.unit_type}
                  {u.crew.length > 0 && <div className="muted small">{u.crew.join(", ")}</div>}
                </td>
                <td className="small">{u.station_name ?? "—"}</td>
                <td className="small">{u.status.replace(/_/g, " ")}</td>
                <td>
                  <button type="button" aria-label={`Edit ${u.call_sign}`} onClick={() => { setEditing(u.id); setPicked(null); }}>
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {current && <UnitEdit key={current.id} unit={current} picked={picked} onSaved={() => { setPicked(null); reload(); }} />}
    </div>
  );
}

function UnitEdit({ unit, picked, onSaved }: { unit: UnitRead; picked: { lat: number; lon: number } | null; onSaved: () => void }) {
  const [form, setForm] = useState({ call_sign: unit.call_sign, unit_type: unit.unit_type, station_name: unit.station_name ?? "", crew: unit.crew.join(", "), device_id: unit.device_id ?? "" });
  const { message, errors, run, busy } = useSubmit(onSaved);
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    const body = {
      call_sign: form.call_sign,
      unit_type: form.unit_type,
      ...(form.station_name ? { station_name: form.station_name } : {}),
      crew: form.crew.split(",").map((s) => s.trim()).filter(Boolean),
      device_id: form.device_id || null,
      ...(picked ? { station_lat: picked.lat, station_lon: picked.lon } : {}),
    };
    await run((api) => api.patch(`/api/units/${encodeURIComponent(unit.id)}`, body), `${form.call_sign} saved.`);
  }
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form aria-busy={busy} className="form card" aria-labelledby="edit-unit" onSubmit={(e) => void submit(e)}>
      <h2 id="edit-unit">Edit {unit.call_sign}</h2>
      <div className="row2">
        <Field label="Call sign" error={errors.call_sign}>
          <input name="edit-call-sign" required value={form.call_sign} onChange={set("call_sign")} />
        </Field>
        <Field label="Type" error={errors.unit_type}>
          <select name="edit-unit-type" value={form.unit_type} onChange={set("unit_type")}>
            <option value="ALS">ALS (advanced)</option>
            <option value="BLS">BLS (basic)</option>
          </select>
        </Field>
      </div>
      <Field label="Station" error={errors.station_name}>
        <input name="edit-station" value={form.station_name} onChange={set("station_name")} />
      </Field>
      <Field label="Crew (comma-separated)" error={errors.crew}>
        <input name="edit-crew" value={form.crew} onChange={set("crew")} />
      </Field>
      <Field label="Reporting device id" error={errors.device_id}>
        <input name="edit-device" value={form.device_id} onChange={set("device_id")} />
      </Field>
      <p className="muted small">
        Station position: {(picked ?? { lat: unit.station_lat, lon: unit.station_lon }).lat.toFixed(5)}, {(picked ?? { lat: unit.station_lat, lon: unit.station_lon }).lon.toFixed(5)}
        {picked ? " (moved: save to keep)" : ""}
      </p>
      <button type="submit" disabled={busy} className="primary">
        Save unit
      </button>
      <Status message={message} />
    </form>
  );
}
