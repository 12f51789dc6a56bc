import { type SyntheticEvent, useCallback, useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { opt, problemText } from "../../api/emergency";
import { intake, STEP_LABEL, type BedBoard, type SessionSummary } from "../../api/intake";
import { useApp, useChannel } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

/** One step as a small labelled chip; colour by status, the word says it too. */
export function StepChip({ agent, status, clinical }: { agent: string; status: string; clinical: boolean }) {
  return (
    <span className={`step-chip step-${status}`} data-agent={agent} data-status={status} title={clinical ? "clinical" : "non-clinical"}>
      {agent.replace(/_/g, " ")}: {STEP_LABEL[status] ?? status}
    </span>
  );
}

/** The ED intake board: arrivals with each step's status (live), a new arrival, the bed board. */
export function IntakeBoard() {
  const { api, me, can } = useApp();
  const { busy, run } = useSubmit();
  const navigate = useNavigate();
  const hospitalId = me?.hospital_id ?? null;
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [beds, setBeds] = useState<BedBoard | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    setSessions(await intake.sessions(api, hospitalId).catch(() => []));
    if (hospitalId) setBeds(await intake.beds(api, hospitalId).catch(() => null));
  }, [api, hospitalId]);
  useEffect(() => void load(), [load]);
  useChannel("intake", () => void load());

  async function arrive(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      const nationalId = opt(f, "national_id");
      const contact = opt(f, "contact_name");
      const medication = opt(f, "planned_medication");
      try {
        const created = await intake.arrive(api, {
          workflow: "emergency",
          hospital_id: hospitalId,
          arrival_mode: "public_ambulance",
          chief_complaint: opt(f, "complaint"),
          mechanism: opt(f, "mechanism"),
          injury: true,
          planned_medications: medication ? [medication] : [],
          person: {
            given_name: opt(f, "given_name"),
            family_name: opt(f, "family_name"),
            birth_date: opt(f, "birth_date"),
            identifiers: nationalId ? [{ system: "national", value: nationalId }] : [],
            emergency_contacts: contact ? [{ name: contact, relation: "family", phone: opt(f, "contact_phone") }] : [],
          },
          vitals: {
            hr: Number(f.get("hr")) || null,
            rr: Number(f.get("rr")) || null,
            spo2: Number(f.get("spo2")) || null,
            sbp: Number(f.get("sbp")) || null,
          },
        });
        void navigate(`/intake/${created.id}`);
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  return (
    <div className="intake">
      <section className="panel" aria-labelledby="intake-board-title">
        <h2 id="intake-board-title">ED intake board</h2>
        <p className="muted">
          Sessions not moving? <Link to="/intake/health">See the intake workers and agents</Link>.
        </p>
        {message && <p role="alert">{message}</p>}
        <table className="table" data-testid="intake-board">
          <thead>
            <tr><th>Arrived</th><th>Workflow</th><th>Session</th><th>Steps</th></tr>
          </thead>
          <tbody>
            {(sessions ?? []).map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td>{new Date(s.created_at).toLocaleTimeString()}</td>
                <td><Link to={`/intake/${s.id}`}>{s.workflow}</Link></td>
                <td className={`session-${s.status}`}>{s.status}</td>
                <td className="step-chips">
                  {s.steps.map((st) => <StepChip key={st.agent} agent={st.agent} status={st.status} clinical={st.clinical} />)}
                </td>
              </tr>
            ))}
            {sessions?.length === 0 && <tr><td colSpan={4} className="muted">No arrivals.</td></tr>}
          </tbody>
        </table>
      </section>
      {can("intake:write") && (
        <section className="panel" aria-labelledby="arrival-title">
          <h2 id="arrival-title">Ambulance arrival</h2>
          <form aria-busy={busy} onSubmit={(e) => void arrive(e)} className="grid3" aria-label="Ambulance arrival">
            <label>Given name <input name="given_name" /></label>
            <label>Family name <input name="family_name" /></label>
            <label>Date of birth <input name="birth_date" placeholder="YYYY-MM-DD" /></label>
            <label>National id <input name="national_id" /></label>
            <label>Chief complaint <input name="complaint" required /></label>
            <label>Mechanism <input name="mechanism" /></label>
            <label>Planned medication <input name="planned_medication" /></label>
            <label>Family contact <input name="contact_name" /></label>
            <label>Contact phone <input name="contact_phone" /></label>
            <label>HR <input name="hr" type="number" /></label>
            <label>RR <input name="rr" type="number" /></label>
            <label>SpO₂ <input name="spo2" type="number" /></label>
            <label>Systolic BP <input name="sbp" type="number" /></label>
            <button type="submit" disabled={busy}>Start emergency intake</button>
          </form>
        </section>
      )}
      {beds && (
        <section className="panel" aria-labelledby="beds-title">
          <h2 id="beds-title">Bed board <span className="muted">({beds.available} free)</span></h2>
          <table className="table" data-testid="bed-board">
            <thead><tr><th>Bed</th><th>Zone</th><th>Status</th><th>Occupant</th></tr></thead>
            <tbody>
              {beds.beds.map((b) => (
                <tr key={b.id} data-bed={b.label}>
                  <td>{b.label}</td>
                  <td>{b.zone}</td>
                  <td className={`bed-${b.status}`}>{b.status}</td>
                  <td>{b.occupant ? <Occupant occupant={b.occupant} /> : <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}

function Occupant({ occupant }: { occupant: NonNullable<BedBoard["beds"][number]["occupant"]> }) {
  const acuity = occupant.acuity ? ` (KTAS ${occupant.acuity})` : "";
  return occupant.session_id ? (
    <Link to={`/intake/${occupant.session_id}`}>intake session{acuity}</Link>
  ) : (
    <span>occupied{acuity}</span>
  );
}
