/* Patients on the incident, and closing or cancelling it (a cancellation needs a reason; the
 * reason goes into the incident's timeline). "Dispatched" is not here: only assigning a unit
 * dispatches an incident. */
import { useState, type SyntheticEvent } from "react";
import { ApiError } from "../../api/client";
import type { IncidentRead } from "../../api/types";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

export function Patients({ incident, onChanged }: { incident: IncidentRead; onChanged: () => void }) {
  const { can } = useApp();
  const { busy, run } = useSubmit();
  const [open, setOpen] = useState(false);
  const [age, setAge] = useState("");
  const [sex, setSex] = useState("unknown");
  const [message, setMessage] = useState<string | null>(null);
  const closed = incident.status === "closed" || incident.status === "cancelled";

  async function add(e: SyntheticEvent) {
    e.preventDefault();
    await run(async (api) => {
      setMessage(null);
      try {
        await api.post(`/api/incidents/${incident.id}/patients`, { age_years: age ? Number(age) : null, sex });
        setAge("");
        setSex("unknown");
        setOpen(false);
        onChanged();
      } catch (err) {
        setMessage(err instanceof ApiError ? `Not added: ${err.message}` : "Not added");
      }
    });
  }

  return (
    <div data-testid="patients">
      <ul className="list small">
        {incident.patients.map((p) => (
          <li key={p.id}>
            <strong>{p.label}</strong> {p.age_years != null ? `${p.age_years} y` : "age unknown"} · {p.sex ?? "sex unknown"}
            {p.acuity != null ? ` · KTAS ${p.acuity}` : " · not triaged"}
            {p.news2 != null ? ` · NEWS2 ${p.news2}` : ""}
          </li>
        ))}
        {incident.patients.length === 0 && <li className="muted">No patient recorded yet.</li>}
      </ul>
      {can("incidents:write") && !closed && !open && (
        <button type="button" onClick={() => setOpen(true)}>
          Add patient
        </button>
      )}
      {open && (
        <form className="form card" aria-label="Add patient" aria-busy={busy} onSubmit={(e) => void add(e)}>
          <div className="row2">
            <label>
              Age (years)
              <input name="patient-age" inputMode="numeric" value={age} onChange={(e) => setAge(e.target.value)} />
            </label>
            <label>
              Sex
              <select name="patient-sex" value={sex} onChange={(e) => setSex(e.target.value)}>
                <option value="unknown">unknown</option>
                <option value="female">female</option>
                <option value="male">male</option>
                <option value="other">other</option>
              </select>
            </label>
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Add
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Back
            </button>
          </div>
        </form>
      )}
      {message && <p role="alert" className="error">{message}</p>}
    </div>
  );
}

export function CloseOrCancel({
  incident,
  onChanged,
  onFinished,
}: {
  incident: IncidentRead;
  onChanged: () => void;
  /** The incident left the open queue: what the board should say instead of its panel. */
  onFinished?: (text: string) => void;
}) {
  const { can } = useApp();
  const { busy, run } = useSubmit();
  const [reason, setReason] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  if (!can("incidents:write") || incident.status === "closed" || incident.status === "cancelled") return null;
  const closable = incident.status === "on_scene" || incident.status === "at_hospital";

  async function move(status: "closed" | "cancelled") {
    await run(async (api) => {
      setMessage(null);
      if (status === "cancelled" && !reason.trim()) {
        setMessage("Give the reason for cancelling.");
        return;
      }
      try {
        await api.post(`/api/incidents/${incident.id}/status`, { status, reason: reason.trim() || null });
        setReason("");
        onFinished?.(`Incident #${incident.number} ${status}${reason.trim() ? ` (${reason.trim()})` : ""}.`);
        onChanged();
      } catch (e) {
        setMessage(e instanceof ApiError ? e.message : "Not changed");
      }
    });
  }

  return (
    <div className="card" data-testid="close-cancel" aria-busy={busy}>
      <label>
        Reason
        <input name="status-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      <div className="actions">
        {closable && (
          <button type="button" className="primary" disabled={busy} onClick={() => void move("closed")}>
            Close incident
          </button>
        )}
        <button type="button" className="danger" disabled={busy} onClick={() => void move("cancelled")}>
          Cancel incident
        </button>
      </div>
      {message && <p role="alert" className="error">{message}</p>}
    </div>
  );
}
