/* Hospitals and their capabilities: what the destination recommendation reads (trauma level,
 * stroke centre, PCI lab, burns unit, paediatric emergency care), ED beds and diversion. */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { endpoints } from "../../api/endpoints";
import type { HospitalRead, HospitalUpdate } from "../../api/types";
import { useApp } from "../../app/context";
import { Field, Status, useSubmit } from "./common";

const FLAGS = [
  ["stroke_centre", "Stroke centre"],
  ["pci", "PCI lab (STEMI)"],
  ["burns", "Burns unit"],
  ["paediatrics", "Paediatric emergency care"],
  ["emergency_department", "Emergency department"],
] as const;
type Flag = (typeof FLAGS)[number][0];

export function Hospitals() {
  const { api } = useApp();
  const [hospitals, setHospitals] = useState<HospitalRead[]>([]);
  const [editing, setEditing] = useState<string | null>(null);
  const reload = useCallback(() => void endpoints.hospitals(api).then(setHospitals, () => undefined), [api]);
  useEffect(reload, [reload]);
  const current = hospitals.find((h) => h.id === editing) ?? null;
  return (
    <div className="admin-split">
      <section className="panel" aria-labelledby="hospitals-title">
        <h2 id="hospitals-title">Hospitals ({hospitals.length})</h2>
        <table className="table" data-testid="admin-hospitals">
          <thead>
            <tr>
              <th scope="col">Hospital</th>
              <th scope="col">Capabilities</th>
              <th scope="col">ED beds</th>
              <th scope="col"><span className="sr-only">Edit</span></th>
            </tr>
          </thead>
          <tbody>
            {hospitals.map((h) => (
              <tr key={h.id} className={h.id === editing ? "current" : undefined} data-testid={`hospital-${h.name}`}>
                <td>
                  <strong>{h.name}</strong>
                  {h.diversion && <div className="warn small">on diversion{h.diversion_reason ? `: ${h.diversion_reason}` : ""}</div>}
                </td>
                <td className="small">{h.capabilities.map((c) => c.replace(/_/g, " ")).join(", ") || "no specialist services"}</td>
                <td>{h.ed_beds_available ?? "—"}</td>
                <td>
                  <button type="button" aria-label={`Edit ${h.name}`} onClick={() => setEditing(h.id)}>
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {current && <HospitalEdit key={current.id} hospital={current} onSaved={reload} />}
    </div>
  );
}

function HospitalEdit({ hospital, onSaved }: { hospital: HospitalRead; onSaved: () => void }) {
  const [form, setForm] = useState({
    name: hospital.name,
    trauma_level: hospital.trauma_level?.toString() ?? "",
    beds: hospital.ed_beds_available?.toString() ?? "",
    stroke_centre: hospital.stroke_centre,
    pci: hospital.pci,
    burns: hospital.burns,
    paediatrics: hospital.paediatrics,
    emergency_department: hospital.emergency_department ?? false,
    diversion: hospital.diversion,
    diversion_reason: hospital.diversion_reason ?? "",
  });
  const { message, errors, run, busy } = useSubmit(onSaved);
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    const body: HospitalUpdate = {
      name: form.name,
      trauma_level: form.trauma_level ? Number(form.trauma_level) : null,
      ed_beds_available: form.beds === "" ? null : Number(form.beds),
      stroke_centre: form.stroke_centre,
      pci: form.pci,
      burns: form.burns,
      paediatrics: form.paediatrics,
      emergency_department: form.emergency_department,
      diversion: form.diversion,
      ...(form.diversion && form.diversion_reason ? { diversion_reason: form.diversion_reason } : {}),
    };
    await run((api) => endpoints.updateHospital(api, hospital.id, body), `${form.name} saved.`);
  }
  const check = (k: Flag | "diversion", label: string) => (
    <label className="check" key={k}>
      <input type="checkbox" name={`edit-${k}`} checked={form[k]} onChange={(e) => setForm((f) => ({ ...f, [k]: e.target.checked }))} />
      {label}
    </label>
  );
  return (
    <form aria-busy={busy} className="form card" aria-labelledby="edit-hospital" onSubmit={(e) => void submit(e)}>
      <h2 id="edit-hospital">Edit {hospital.name}</h2>
      <Field label="Name" error={errors.name}>
        <input name="edit-name" required value={form.name} onChange={(e) => setForm((f) => ({ ...f, name: e.target.value }))} />
      </Field>
      <div className="row2">
        <Field label="Trauma level" error={errors.trauma_level}>
          <select name="edit-trauma" value={form.trauma_level} onChange={(e) => setForm((f) => ({ ...f, trauma_level: e.target.value }))}>
            <option value="">not a trauma centre</option>
            {[1, 2, 3, 4].map((l) => (
              <option key={l} value={l}>
                level {l}
              </option>
            ))}
          </select>
        </Field>
        <Field label="ED beds free" error={errors.ed_beds_available}>
          <input name="edit-beds" inputMode="numeric" value={form.beds} onChange={(e) => setForm((f) => ({ ...f, beds: e.target.value }))} />
        </Field>
      </div>
      <fieldset>
        <legend>Capabilities</legend>
        {FLAGS.map(([k, label]) => check(k, label))}
      </fieldset>
      {check("diversion", "On diversion (ambulances go elsewhere)")}
      {form.diversion && (
        <Field label="Diversion reason" error={errors.diversion_reason}>
          <input name="edit-diversion-reason" value={form.diversion_reason} onChange={(e) => setForm((f) => ({ ...f, diversion_reason: e.target.value }))} />
        </Field>
      )}
      <button type="submit" disabled={busy} className="primary">
        Save hospital
      </button>
      <Status message={message} />
    </form>
  );
}
