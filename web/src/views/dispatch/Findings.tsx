/* The clinical picture the destination rules read (hospitals/needs.py on the server): the
 * mechanism, BE-FAST, the ECG, motor GCS, and the dispatcher's or crew's own call on the
 * condition, which overrides the rules (their reasons stay visible, marked as overridden). */
import { useEffect, useState, type SyntheticEvent } from "react";
import { ApiError } from "../../api/client";
import type { ClinicalFindings, Condition, DestinationRecommendation, IncidentRead } from "../../api/types";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

export const CONDITIONS: [Condition, string][] = [
  ["major_trauma", "Major trauma — level 1–2 trauma centre"],
  ["trauma", "Trauma — any trauma centre"],
  ["stroke", "Stroke — stroke centre"],
  ["stemi", "STEMI — PCI lab"],
  ["burns", "Burns — burns unit"],
];
type BeFast = NonNullable<ClinicalFindings["befast"]>[number];
const BEFAST: [BeFast, string][] = [
  ["balance", "B — balance lost"],
  ["eyes", "E — vision lost"],
  ["face", "F — face droops"],
  ["arm", "A — arm weak"],
  ["speech", "S — speech slurred"],
];
const ECG: [NonNullable<ClinicalFindings["ecg"]>, string][] = [
  ["stemi", "STEMI"],
  ["stemi_equivalent", "STEMI equivalent (new LBBB, posterior)"],
  ["non_diagnostic", "Not diagnostic"],
  ["normal", "Normal"],
];

export function Findings({ incident, onSaved }: { incident: IncidentRead; onSaved: () => void }) {
  const { can } = useApp();
  const { busy, run } = useSubmit();
  const f = incident.findings;
  const [override, setOverride] = useState(f.conditions != null);
  const [conditions, setConditions] = useState<Condition[]>(f.conditions ?? []);
  const [befast, setBefast] = useState<BeFast[]>(f.befast ?? []);
  const [ecg, setEcg] = useState<string>(f.ecg ?? "");
  const [mechanism, setMechanism] = useState(f.mechanism ?? "");
  const [gcsMotor, setGcsMotor] = useState(f.gcs_motor != null ? String(f.gcs_motor) : "");
  const [message, setMessage] = useState<string | null>(null);
  // Typed but not saved yet: an incident update pushed meanwhile (a unit's status, someone
  // else's edit) must not wipe it; an untouched form follows the stored findings.
  const [dirty, setDirty] = useState(false);
  const stored = JSON.stringify(f);
  useEffect(() => {
    if (dirty) return;
    const g = JSON.parse(stored) as ClinicalFindings;
    setOverride(g.conditions != null);
    setConditions(g.conditions ?? []);
    setBefast(g.befast ?? []);
    setEcg(g.ecg ?? "");
    setMechanism(g.mechanism ?? "");
    setGcsMotor(g.gcs_motor != null ? String(g.gcs_motor) : "");
  }, [stored, dirty]);
  const editable = can("incidents:write");

  function flip<T>(list: T[], item: T, on: boolean): T[] {
    return on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item);
  }

  async function save(e: SyntheticEvent) {
    e.preventDefault();
    await run(async (api) => {
      setMessage(null);
      const body: ClinicalFindings = {
        conditions: override ? conditions : null,
        mechanism: mechanism.trim() || null,
        befast,
        ecg: (ecg || null) as ClinicalFindings["ecg"],
        gcs_motor: gcsMotor ? Number(gcsMotor) : null,
      };
      try {
        await api.put(`/api/incidents/${incident.id}/findings`, body);
        setDirty(false);
        setMessage("Saved: the destinations below follow it.");
        onSaved();
      } catch (err) {
        setMessage(err instanceof ApiError ? `Not saved: ${err.message}` : "Not saved");
      }
    });
  }

  return (
    <details className="card findings" data-testid="findings">
      <summary>Clinical picture and condition{f.conditions != null ? " (set by hand)" : ""}</summary>
      <form className="form" onSubmit={(e) => void save(e)} onChange={() => setDirty(true)} aria-label="Clinical picture" aria-busy={busy}>
        <label>
          Mechanism of injury
          <input name="mechanism" value={mechanism} disabled={!editable} onChange={(e) => setMechanism(e.target.value)} />
        </label>
        <fieldset>
          <legend>BE-FAST (stroke)</legend>
          {BEFAST.map(([sign, label]) => (
            <label key={sign} className="check">
              <input
                type="checkbox"
                name={`befast-${sign}`}
                checked={befast.includes(sign)}
                disabled={!editable}
                onChange={(e) => setBefast((b) => flip(b, sign, e.target.checked))}
              />
              {label}
            </label>
          ))}
        </fieldset>
        <div className="row2">
          <label>
            12-lead ECG
            <select name="ecg" value={ecg} disabled={!editable} onChange={(e) => setEcg(e.target.value)}>
              <option value="">not recorded</option>
              {ECG.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            GCS motor (1–6)
            <select name="gcs_motor" value={gcsMotor} disabled={!editable} onChange={(e) => setGcsMotor(e.target.value)}>
              <option value="">not assessed</option>
              {[6, 5, 4, 3, 2, 1].map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset>
          <legend>Condition</legend>
          <label className="check">
            <input
              type="checkbox"
              name="override"
              checked={override}
              disabled={!editable}
              onChange={(e) => setOverride(e.target.checked)}
            />
            Decide the condition myself (instead of the rules)
          </label>
          {override &&
            CONDITIONS.map(([c, label]) => (
              <label key={c} className="check">
                <input
                  type="checkbox"
                  name={`condition-${c}`}
                  checked={conditions.includes(c)}
                  disabled={!editable}
                  onChange={(e) => setConditions((cs) => flip(cs, c, e.target.checked))}
                />
                {label}
              </label>
            ))}
          {override && conditions.length === 0 && <p className="muted small">None ticked: the nearest suitable ED.</p>}
        </fieldset>
        {editable && (
          <button type="submit" className="primary" disabled={busy}>
            Save clinical picture
          </button>
        )}
        {message && <p role="status">{message}</p>}
      </form>
    </details>
  );
}

/** Why the patient needs what the hospital list requires: each rule with its source. */
export function NeedsList({ dests }: { dests: DestinationRecommendation }) {
  if (dests.needs.length === 0 && dests.questions.length === 0)
    return <p className="muted small">No specialist need found: the nearest suitable ED.</p>;
  return (
    <div data-testid="needs">
      {dests.overridden && <p className="small"><strong>Condition set by hand</strong> (the rules' reasons are struck through).</p>}
      <ul className="small needs">
        {dests.needs.map((n) => (
          <li key={n.criterion} className={n.applied ? "" : "overridden"}>
            {n.applied ? <strong>{n.capability.replace(/_/g, " ")}</strong> : <s>{n.capability.replace(/_/g, " ")}</s>}: {n.reason}{" "}
            <span className="muted">({n.source})</span>
          </li>
        ))}
      </ul>
      {dests.questions.length > 0 && (
        <ul className="small questions" data-testid="questions">
          {dests.questions.map((q) => (
            <li key={q}>Ask: {q}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
