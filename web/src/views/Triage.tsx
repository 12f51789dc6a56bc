import { useEffect, useState, type SyntheticEvent } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { endpoints, type TriageRequest, type TriageResult } from "../api/pending";
import type { IncidentPage, IncidentRead, IncidentSummary } from "../api/types";
import { useApp } from "../app/context";
import { BAND_LABEL, news2Band, parseBand } from "../lib/news2";

const VITALS = [
  { key: "hr", label: "Heart rate (/min)" },
  { key: "rr", label: "Respiratory rate (/min)" },
  { key: "spo2", label: "SpO₂ (%)" },
  { key: "sbp", label: "Systolic BP (mmHg)" },
  { key: "dbp", label: "Diastolic BP (mmHg)" },
  { key: "temp", label: "Temperature (°C)" },
] as const;

type FormState = Record<string, string | boolean>;

const EMPTY: FormState = {
  age: "",
  sex: "female",
  chief_complaint: "",
  consciousness: "A",
  hr: "",
  rr: "",
  spo2: "",
  sbp: "",
  dbp: "",
  temp: "",
  nrs_pain: "",
  on_oxygen: false,
  injury: false,
};

const num = (v: string | boolean | undefined) => (typeof v === "string" && v.trim() ? Number(v) : null);

export function Triage() {
  const { api, can } = useApp();
  const { incidentId } = useParams();
  const navigate = useNavigate();
  const [incidents, setIncidents] = useState<IncidentSummary[]>([]);
  const [incident, setIncident] = useState<IncidentRead | null>(null);
  const [form, setForm] = useState<FormState>(EMPTY);
  const [result, setResult] = useState<TriageResult | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);

  useEffect(() => {
    api.get<IncidentPage>("/api/incidents?status=new&status=triaged&status=dispatched&limit=100").then(
      (p) => setIncidents(p.items),
      () => undefined,
    );
  }, [api]);
  useEffect(() => {
    if (!incidentId) {
      setIncident(null);
      return;
    }
    api.get<IncidentRead>(`/api/incidents/${incidentId}`).then(
      (i) => {
        setIncident(i);
        setForm((f) => ({ ...f, chief_complaint: (f.chief_complaint as string) || i.chief_complaint }));
      },
      () => setIncident(null),
    );
  }, [api, incidentId]);

  const set = (k: string) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const toggle = (k: string) => (e: { target: { checked: boolean } }) => setForm((f) => ({ ...f, [k]: e.target.checked }));

  async function assess(e: SyntheticEvent) {
    e.preventDefault();
    setMessage(null);
    setFieldErrors({});
    const body: TriageRequest = {
      incident_id: incident?.id ?? null,
      age: Number(form.age),
      sex: form.sex as "female" | "male",
      chief_complaint: String(form.chief_complaint),
      consciousness: String(form.consciousness),
      injury: Boolean(form.injury),
      on_oxygen: Boolean(form.on_oxygen),
      nrs_pain: num(form.nrs_pain),
      pain: (num(form.nrs_pain) ?? 0) > 0,
      hr: num(form.hr),
      rr: num(form.rr),
      spo2: num(form.spo2),
      sbp: num(form.sbp),
      dbp: num(form.dbp),
      temp: num(form.temp),
    };
    try {
      const r = await endpoints.triage(api, body);
      if (r === null) {
        setMessage("The triage service is not available on this server yet (POST /api/triage pending).");
        setResult(null);
      } else setResult(r);
    } catch (err) {
      if (err instanceof ApiError) {
        setFieldErrors(err.fields);
        setMessage(err.message);
      } else setMessage("Could not reach the triage service");
    }
  }

  async function save() {
    if (!incident || !result) return;
    try {
      // IncidentUpdate currently requires lat, lon and callback_number (their Field() has no
      // default): send the incident's own values so only the priority changes.
      await api.patch(`/api/incidents/${incident.id}`, {
        priority: result.level,
        lat: incident.lat,
        lon: incident.lon,
        callback_number: incident.callback_number,
      });
      if (incident.status === "new")
        await api.post(`/api/incidents/${incident.id}/status`, {
          status: "triaged",
          reason: `KTAS ${result.level} by triage${result.model_version ? ` (${result.model_version})` : ""}`,
        });
      setMessage(`Saved: incident #${incident.number} is now priority ${result.level}.`);
      setIncident(await api.get<IncidentRead>(`/api/incidents/${incident.id}`));
    } catch (err) {
      setMessage(err instanceof ApiError ? `Not saved: ${err.message}` : "Not saved");
    }
  }

  const news2Score = result?.news2?.total ?? result?.news2?.score ?? null;
  const band = parseBand(result?.news2?.band) ?? (news2Score !== null ? news2Band(news2Score) : null);

  return (
    <div className="triage">
      <section className="panel" aria-labelledby="triage-title">
        <h2 id="triage-title">Triage</h2>
        <label>
          Incident
          <select
            value={incidentId ?? ""}
            onChange={(e) => void navigate(e.target.value ? `/triage/${e.target.value}` : "/triage")}
          >
            <option value="">— none (assessment only) —</option>
            {incidents.map((i) => (
              <option key={i.id} value={i.id}>
                #{i.number} P{i.priority} {i.chief_complaint}
              </option>
            ))}
          </select>
        </label>
        <form className="form" onSubmit={(e) => void assess(e)} aria-label="Triage assessment">
          <label>
            Chief complaint
            <input name="chief_complaint" required value={String(form.chief_complaint)} onChange={set("chief_complaint")} />
            {fieldErrors.chief_complaint && <span className="error">{fieldErrors.chief_complaint}</span>}
          </label>
          <div className="row2">
            <label>
              Age (years)
              <input name="age" required inputMode="numeric" value={String(form.age)} onChange={set("age")} />
              {fieldErrors.age && <span className="error">{fieldErrors.age}</span>}
            </label>
            <label>
              Sex
              <select name="sex" value={String(form.sex)} onChange={set("sex")}>
                <option value="female">female</option>
                <option value="male">male</option>
              </select>
            </label>
          </div>
          <label>
            Consciousness (ACVPU)
            <select name="consciousness" value={String(form.consciousness)} onChange={set("consciousness")}>
              <option value="A">Alert</option>
              <option value="C">New confusion</option>
              <option value="V">Responds to voice</option>
              <option value="P">Responds to pain</option>
              <option value="U">Unresponsive</option>
            </select>
          </label>
          <div className="grid3">
            {VITALS.map((v) => (
              <label key={v.key}>
                {v.label}
                <input name={v.key} inputMode="decimal" value={String(form[v.key])} onChange={set(v.key)} />
                {fieldErrors[v.key] && <span className="error">{fieldErrors[v.key]}</span>}
              </label>
            ))}
            <label>
              Pain (0–10)
              <input name="nrs_pain" inputMode="numeric" value={String(form.nrs_pain)} onChange={set("nrs_pain")} />
            </label>
          </div>
          <label className="check">
            <input type="checkbox" name="on_oxygen" checked={Boolean(form.on_oxygen)} onChange={toggle("on_oxygen")} />
            On supplemental oxygen
          </label>
          <label className="check">
            <input type="checkbox" name="injury" checked={Boolean(form.injury)} onChange={toggle("injury")} />
            Injury (trauma)
          </label>
          <button type="submit" className="primary" disabled={!can("triage:run")}>
            Assess
          </button>
        </form>
      </section>
      <section className="panel" aria-labelledby="result-title" aria-live="polite">
        <h2 id="result-title">Result</h2>
        {message && <p role="status" data-testid="triage-message">{message}</p>}
        {result ? (
          <div data-testid="triage-result">
            <p className={`acuity acuity-${result.level}`}>
              Acuity: <strong>KTAS {result.level}</strong>
            </p>
            <p className={band ? `band-chip band-${band}` : ""}>
              NEWS2: <strong>{news2Score ?? "not enough vitals"}</strong>
              {band ? ` — ${BAND_LABEL[band]}` : ""}
            </p>
            {result.explanation && result.explanation.length > 0 && (
              <>
                <h3>Why</h3>
                <ul>
                  {result.explanation.map((x, i) => (
                    <li key={i}>
                      {x.label ?? x.feature}
                      {x.contribution !== undefined ? ` (${x.contribution > 0 ? "+" : ""}${x.contribution.toFixed(2)})` : ""}
                    </li>
                  ))}
                </ul>
              </>
            )}
            {incident && can("incidents:write") && (
              <button type="button" className="primary" onClick={() => void save()}>
                Save to incident #{incident.number}
              </button>
            )}
          </div>
        ) : (
          !message && <p className="muted">Enter what is known and choose Assess.</p>
        )}
      </section>
    </div>
  );
}
