/* The pre-arrival handoff from the dispatch side: draft it for the chosen hospital (the server
 * pulls the incident, patient and triage in), complete the ATMIST record — notes, allergies,
 * vital signs with AVPU and oxygen, treatments with dose, route and time — and send it. After
 * sending, the record is the hospital's: this panel follows its status. */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { ApiError, type ApiClient } from "../../api/client";
import type { AtmistRecord, HandoffPage, HandoffRead, Treatment, VitalSigns } from "../../api/types";
import { useApp, useChannel } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { registry, type MedicationConflict } from "../../api/registry";
import { AllergyConflicts } from "../../components/AllergyConflicts";
import { O2_DEVICE_LABEL, clock, signFields, sourceText, treatmentText } from "../../lib/handoff";

const AVPU = ["A", "C", "V", "P", "U"] as const;
const VITALS = [
  ["hr", "HR (/min)"],
  ["spo2", "SpO₂ (%)"],
  ["rr", "RR (/min)"],
  ["sbp", "Systolic (mmHg)"],
  ["dbp", "Diastolic (mmHg)"],
  ["temp", "Temp (°C)"],
] as const;

type VitalKey = (typeof VITALS)[number][0];
const EMPTY_SIGNS: Record<VitalKey | "avpu", string> = { hr: "", spo2: "", rr: "", sbp: "", dbp: "", temp: "", avpu: "" };
const EMPTY_TREATMENT = { kind: "medication", name: "", dose_value: "", dose_unit: "", route: "", at: "", response: "" };
const EMPTY_OXYGEN = { on: false, device: "", flow: "" };

/** "14:05" today as an ISO time with this browser's offset (the server refuses future times). */
function todayAt(hhmm: string): string | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm.trim());
  if (!m) return null;
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), 0, 0);
  return d.toISOString();
}

/** What a draft's edit sends: the ATMIST record, acuity and ETA. */
export interface DraftEdit {
  content: AtmistRecord;
  acuity: number | null;
  eta: string | null | undefined;
}

/** Where a draft's save and send go: straight to the API (the dispatcher), or into the crew's
 * offline queue, which answers with the draft as it will be once sent. `via` is the client of
 * the form's submission (its Idempotency-Keys); the queue keys its actions itself. */
export interface DraftPersistence {
  save(handoff: HandoffRead, edit: DraftEdit, via?: ApiClient): Promise<HandoffRead>;
  send(handoff: HandoffRead, via?: ApiClient): Promise<HandoffRead>;
}

export function directPersistence(api: ApiClient): DraftPersistence {
  return {
    save: (h, edit, via = api) => via.patch<HandoffRead>(`/api/handoffs/${h.id}`, edit),
    send: (h, via = api) => via.post<HandoffRead>(`/api/handoffs/${h.id}/send`, {}),
  };
}

export function HandoffEditor({
  incidentId,
  patientId,
  unitId,
  hospitalId,
  hospitalName,
  persist,
  onHandoff,
}: {
  incidentId: string;
  patientId: string | null;
  unitId: string | null;
  hospitalId: string | null;
  hospitalName: string | null;
  persist?: DraftPersistence;
  /** Told the handoff this panel shows, whenever it changes (the crew's attachments need it). */
  onHandoff?: (handoff: HandoffRead | null) => void;
}) {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [handoff, setHandoff] = useState<HandoffRead | null | undefined>(undefined);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    if (handoff !== undefined) onHandoff?.(handoff);
  }, [handoff, onHandoff]);

  const load = useCallback(async () => {
    try {
      const page = await api.get<HandoffPage>(`/api/handoffs?incident_id=${encodeURIComponent(incidentId)}&limit=20`);
      const open = page.items.filter((h) => h.status !== "cancelled" && (patientId === null || h.patient_id === patientId));
      const latest = open[open.length - 1] ?? null;
      setHandoff(latest ? await api.get<HandoffRead>(`/api/handoffs/${latest.id}`) : null);
    } catch {
      setHandoff(null);
    }
  }, [api, incidentId, patientId]);
  useEffect(() => {
    void load();
  }, [load]);
  // The board's push is the changed handoff's routing metadata, as listed. Once sent, that is all
  // this side reads of it: applied as it is. A draft's content is not on the board: re-read.
  useChannel(can("handoffs:write") ? "handoffs" : null, (m) => {
    if (m.type !== "board") return;
    const pushed = m.data as HandoffRead;
    if (pushed.incident_id !== incidentId || (patientId !== null && pushed.patient_id !== patientId)) return;
    if (pushed.status !== "draft" && pushed.status !== "cancelled" && handoff?.id === pushed.id) {
      setHandoff((held) => (held && Date.parse(held.updated_at) > Date.parse(pushed.updated_at) ? held : pushed));
    } else void load();
  });

  async function draft() {
    if (!hospitalId) return;
    await run(async (api) => {
      setMessage(null);
      try {
        setHandoff(
          await api.post<HandoffRead>("/api/handoffs/draft", {
            incident_id: incidentId,
            patient_id: patientId,
            unit_id: unitId,
            hospital_id: hospitalId,
          }),
        );
      } catch (e) {
        setMessage(e instanceof ApiError ? `Not drafted: ${e.message}` : "Not drafted");
      }
    });
  }

  if (!can("handoffs:write")) return null;
  if (handoff === undefined) return <p className="muted">Loading handoff…</p>;
  if (handoff === null)
    return (
      <div data-testid="handoff">
        <button type="button" className="primary" disabled={!hospitalId || !patientId || busy} aria-busy={busy} onClick={() => void draft()}>
          Draft handoff{hospitalName ? ` to ${hospitalName}` : ""}
        </button>
        {!patientId && <p className="muted small">Add the patient first.</p>}
        {patientId && !hospitalId && <p className="muted small">Choose a destination hospital first.</p>}
        {message && <p role="alert" className="error">{message}</p>}
      </div>
    );
  if (handoff.status !== "draft")
    return (
      <div data-testid="handoff">
        <p>
          Handoff{handoff.hospital_id === hospitalId && hospitalName ? ` to ${hospitalName}` : ""}{" "}
          <strong data-testid="handoff-status">{handoff.status.replace(/_/g, " ")}</strong>
          {handoff.acknowledged_at ? ` · acknowledged ${new Date(handoff.acknowledged_at).toLocaleTimeString()}` : ""}
        </p>
      </div>
    );
  return <Draft handoff={handoff} onChanged={setHandoff} persist={persist ?? directPersistence(api)} />;
}

/** The draft form, re-read from the server when the stored draft changes (the bridge sets the
 * ETA, monitor readings arrive) unless the user has typed something not saved yet: then what
 * they typed stays, and saving puts it over the newest stored draft. */
function Draft({
  handoff,
  onChanged,
  persist,
}: {
  handoff: HandoffRead;
  onChanged: (h: HandoffRead) => void;
  persist: DraftPersistence;
}) {
  const [dirty, setDirty] = useState(false);
  const [version, setVersion] = useState(handoff.updated_at);
  useEffect(() => {
    if (!dirty) setVersion(handoff.updated_at);
  }, [dirty, handoff.updated_at]);
  return (
    <>
      {dirty && version !== handoff.updated_at && (
        <p className="small" role="status" data-testid="draft-changed">
          The stored draft changed meanwhile; your entries are kept and saving adds them to it.
        </p>
      )}
      <DraftForm
        key={version}
        handoff={handoff}
        persist={persist}
        onEdit={() => setDirty(true)}
        onChanged={(h) => {
          setDirty(false);
          onChanged(h);
        }}
      />
    </>
  );
}

function DraftForm({
  handoff,
  onEdit,
  onChanged,
  persist,
}: {
  handoff: HandoffRead;
  onEdit: () => void;
  onChanged: (h: HandoffRead) => void;
  persist: DraftPersistence;
}) {
  const { api } = useApp();
  const { busy, run } = useSubmit();
  // Medications in this draft against the allergies written in it and on the patient's record,
  // as the hospital will see them; checked when the draft opens (and after each save, which
  // reopens it). Without network nothing is shown: the hospital's card checks again.
  const [conflicts, setConflicts] = useState<MedicationConflict[] | null>(null);
  useEffect(() => {
    registry.checkHandoff(api, handoff.id).then(
      (c) => setConflicts(c.conflicts),
      () => setConflicts(null),
    );
  }, [api, handoff.id, handoff.updated_at]);
  const c: AtmistRecord = handoff.content ?? {};
  const [mechanism, setMechanism] = useState(c.mechanism ?? "");
  const [injuries, setInjuries] = useState((c.injuries ?? []).join("\n"));
  const [notes, setNotes] = useState(c.notes ?? "");
  // One allergy a line; empty with "none known" ticked is a recorded "no known allergies".
  const [allergies, setAllergies] = useState((c.allergies ?? []).join("\n"));
  const [noAllergies, setNoAllergies] = useState(c.allergies != null && c.allergies.length === 0);
  const [onsetUnknown, setOnsetUnknown] = useState(c.onset_unknown ?? false);
  const [onset, setOnset] = useState("");
  const [age, setAge] = useState(c.patient?.age_years != null ? String(c.patient.age_years) : "");
  const [acuity, setAcuity] = useState(handoff.acuity != null ? String(handoff.acuity) : "");
  // A lazy initial state: the minutes left are computed once, when the draft opens.
  const [etaMinutes, setEtaMinutes] = useState(() =>
    handoff.eta ? String(Math.max(1, Math.round((Date.parse(handoff.eta) - Date.now()) / 60000))) : "",
  );
  const [signs, setSigns] = useState(EMPTY_SIGNS);
  const [oxygen, setOxygen] = useState(EMPTY_OXYGEN);
  const [treatments, setTreatments] = useState<Treatment[]>(c.treatment ?? []);
  const [noTreatment, setNoTreatment] = useState(c.treatment != null && c.treatment.length === 0);
  const [row, setRow] = useState(EMPTY_TREATMENT);
  const [message, setMessage] = useState<string | null>(null);

  function newSigns(): VitalSigns | null {
    const values = Object.fromEntries(VITALS.map(([k]) => [k, signs[k].trim() ? Number(signs[k]) : null]));
    if (!Object.values(values).some((v) => v !== null) && !signs.avpu && !oxygen.on) return null;
    return {
      ts: new Date().toISOString(),
      ...values,
      avpu: (signs.avpu || null) as VitalSigns["avpu"],
      o2: oxygen.on,
      o2_device: oxygen.on && oxygen.device ? (oxygen.device as VitalSigns["o2_device"]) : null,
      o2_flow: oxygen.on && oxygen.flow.trim() ? Number(oxygen.flow) : null,
      source: "crew",
    };
  }

  function addTreatment() {
    if (!row.name.trim()) return;
    const t: Treatment = {
      kind: row.kind as Treatment["kind"],
      name: row.name.trim(),
      dose_value: row.dose_value ? Number(row.dose_value) : null,
      dose_unit: row.dose_unit.trim() || null,
      route: row.route.trim() || null,
      at: row.at ? todayAt(row.at) : null,
      response: row.response.trim() || null,
    };
    setTreatments((ts) => [...ts, t]);
    onEdit();
    setNoTreatment(false);
    setRow(EMPTY_TREATMENT);
  }

  async function save(via: ApiClient): Promise<HandoffRead | null> {
    setMessage(null);
    const added = newSigns();
    const allergyList = allergies.split("\n").map((a) => a.trim()).filter(Boolean);
    const content: AtmistRecord = {
      ...c,
      patient: { ...(c.patient ?? {}), age_years: age ? Number(age) : (c.patient?.age_years ?? null) },
      mechanism: mechanism.trim() || null,
      injuries: injuries.split("\n").map((s) => s.trim()).filter(Boolean),
      notes: notes.trim() || null,
      allergies: noAllergies ? [] : allergyList.length ? allergyList : null,
      onset_unknown: onsetUnknown,
      time_of_onset: onsetUnknown ? null : onset ? todayAt(onset) : (c.time_of_onset ?? null),
      signs: [...(c.signs ?? []), ...(added ? [added] : [])],
      treatment: noTreatment ? [] : treatments.length ? treatments : (c.treatment ?? null),
    };
    if (content.injuries?.length === 0) content.injuries = null;
    try {
      const saved = await persist.save(handoff, {
        content,
        acuity: acuity ? Number(acuity) : null,
        eta: etaMinutes ? new Date(Date.now() + Number(etaMinutes) * 60000).toISOString() : handoff.eta,
      }, via);
      setSigns(EMPTY_SIGNS);
      setOxygen(EMPTY_OXYGEN);
      return saved;
    } catch (e) {
      setMessage(e instanceof ApiError ? `Not saved: ${e.message}` : "Not saved");
      return null;
    }
  }

  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    await run(async (via) => {
      const saved = await save(via);
      if (saved) onChanged(saved);
    });
  }

  async function send() {
    await run(async (via) => {
      const saved = await save(via);
      if (!saved) return;
      try {
        onChanged(await persist.send(saved, via));
      } catch (e) {
        onChanged(saved);
        setMessage(e instanceof ApiError ? `Not sent: ${e.message}` : "Not sent");
      }
    });
  }

  const problems = handoff.problems ?? [];
  return (
    <form className="form card" data-testid="handoff" aria-label="Handoff draft" aria-busy={busy} onChange={onEdit} onSubmit={(e) => void submit(e)}>
      <h3>Handoff draft</h3>
      <AllergyConflicts conflicts={conflicts} />
      <div className="row2">
        <label>
          A — Age (years)
          <input name="age" inputMode="numeric" value={age} onChange={(e) => setAge(e.target.value)} />
        </label>
        <label>
          Acuity (KTAS)
          <select name="acuity" value={acuity} onChange={(e) => setAcuity(e.target.value)}>
            <option value="">—</option>
            {[1, 2, 3, 4, 5].map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="row2">
        <label>
          T — Onset (HH:MM today)
          <input name="onset" placeholder="14:05" value={onset} disabled={onsetUnknown} onChange={(e) => setOnset(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" name="onset_unknown" checked={onsetUnknown} onChange={(e) => setOnsetUnknown(e.target.checked)} />
          Onset unknown
        </label>
      </div>
      <label>
        M — Mechanism / complaint
        <input name="mechanism" value={mechanism} onChange={(e) => setMechanism(e.target.value)} />
      </label>
      <label>
        I — Injuries / illness found (one per line)
        <textarea name="injuries" rows={2} value={injuries} onChange={(e) => setInjuries(e.target.value)} />
      </label>
      <fieldset>
        <legend>S — Vital signs ({(c.signs ?? []).length} set(s) recorded; a new set is added on save)</legend>
        {(c.signs ?? []).length > 0 && (
          <ul className="small recorded-signs" data-testid="recorded-signs">
            {(c.signs ?? []).map((s) => (
              <li key={`${s.ts}-${s.source}`}>
                <strong>{clock(s.ts)}</strong> {sourceText(s)}: {signFields(s).map(([l, v]) => `${l} ${v}`).join(", ")}
              </li>
            ))}
          </ul>
        )}
        <div className="grid3">
          {VITALS.map(([k, label]) => (
            <label key={k}>
              {label}
              <input name={`sign-${k}`} inputMode="decimal" value={signs[k]} onChange={(e) => setSigns((s) => ({ ...s, [k]: e.target.value }))} />
            </label>
          ))}
          <label>
            AVPU
            <select name="sign-avpu" value={signs.avpu} onChange={(e) => setSigns((s) => ({ ...s, avpu: e.target.value }))}>
              <option value="">—</option>
              {AVPU.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
        </div>
        <label className="check">
          <input type="checkbox" name="sign-o2" checked={oxygen.on} onChange={(e) => setOxygen((o) => ({ ...o, on: e.target.checked }))} />
          On supplemental oxygen
        </label>
        <div className="row2">
          <label>
            Oxygen device
            <select name="sign-o2-device" value={oxygen.device} disabled={!oxygen.on} onChange={(e) => setOxygen((o) => ({ ...o, device: e.target.value }))}>
              <option value="">—</option>
              {Object.entries(O2_DEVICE_LABEL).map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Oxygen flow (L/min)
            <input name="sign-o2-flow" inputMode="decimal" value={oxygen.flow} disabled={!oxygen.on} onChange={(e) => setOxygen((o) => ({ ...o, flow: e.target.value }))} />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>T — Treatment given</legend>
        <ul className="small" data-testid="treatments">
          {treatments.map((t, i) => (
            <li key={i}>
              {treatmentText(t)}{" "}
              <button
                type="button"
                onClick={() => {
                  setTreatments((ts) => ts.filter((_, j) => j !== i));
                  onEdit();
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
        <div className="grid3">
          <label>
            Kind
            <select name="treatment-kind" value={row.kind} onChange={(e) => setRow((r) => ({ ...r, kind: e.target.value }))}>
              <option value="medication">medication</option>
              <option value="procedure">procedure</option>
            </select>
          </label>
          <label>
            Name
            <input name="treatment-name" value={row.name} onChange={(e) => setRow((r) => ({ ...r, name: e.target.value }))} />
          </label>
          <label>
            Dose
            <input name="treatment-dose" inputMode="decimal" value={row.dose_value} disabled={row.kind === "procedure"} onChange={(e) => setRow((r) => ({ ...r, dose_value: e.target.value }))} />
          </label>
          <label>
            Unit (mg, g, L/min…)
            <input name="treatment-unit" value={row.dose_unit} disabled={row.kind === "procedure"} onChange={(e) => setRow((r) => ({ ...r, dose_unit: e.target.value }))} />
          </label>
          <label>
            Route
            <input name="treatment-route" value={row.route} onChange={(e) => setRow((r) => ({ ...r, route: e.target.value }))} />
          </label>
          <label>
            Time (HH:MM)
            <input name="treatment-at" placeholder="14:10" value={row.at} onChange={(e) => setRow((r) => ({ ...r, at: e.target.value }))} />
          </label>
        </div>
        <label>
          Response
          <input name="treatment-response" value={row.response} onChange={(e) => setRow((r) => ({ ...r, response: e.target.value }))} />
        </label>
        <button type="button" onClick={addTreatment}>
          Add treatment
        </button>
        <label className="check">
          <input type="checkbox" name="no_treatment" checked={noTreatment} disabled={treatments.length > 0} onChange={(e) => setNoTreatment(e.target.checked)} />
          No treatment given
        </label>
      </fieldset>
      <fieldset>
        <legend>Allergies</legend>
        <label>
          Allergies (one per line, with the reaction)
          <textarea name="allergies" rows={2} value={allergies} disabled={noAllergies} onChange={(e) => setAllergies(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" name="no_allergies" checked={noAllergies} disabled={allergies.trim() !== ""} onChange={(e) => setNoAllergies(e.target.checked)} />
          No known allergies
        </label>
      </fieldset>
      <label>
        Notes (social situation, anything else the ED must know)
        <textarea name="notes" rows={3} value={notes} onChange={(e) => setNotes(e.target.value)} />
      </label>
      <label>
        Arrives in (minutes)
        <input name="eta_minutes" inputMode="numeric" value={etaMinutes} onChange={(e) => setEtaMinutes(e.target.value)} />
      </label>
      {problems.length > 0 && (
        <ul className="small muted" data-testid="handoff-problems">
          {problems.map((p) => (
            <li key={p.field}>{p.message}</li>
          ))}
        </ul>
      )}
      {message && <p role="alert" className="error">{message}</p>}
      <div className="actions">
        <button type="submit" disabled={busy}>Save draft</button>
        <button type="button" className="primary" disabled={busy} onClick={() => void send()}>
          Send to hospital
        </button>
      </div>
    </form>
  );
}
