import { useEffect, useState, type SyntheticEvent } from "react";
import { featureValue } from "../lib/featureValue";
import { useNavigate, useParams } from "react-router-dom";
import { ApiError, type ApiClient } from "../api/client";
import { endpoints } from "../api/endpoints";
import type {
  IncidentPage,
  IncidentRead,
  IncidentSummary,
  TriageRequest,
  TriageResponse as TriageResult,
} from "../api/types";
import { useApp } from "../app/context";
import { useSubmit } from "../app/useSubmit";
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
  sex: "",
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
  oxygen_therapy: "",
  respiratory_effort: "",
  capillary_refill_seconds: "",
  high_risk: false,
  expected_resources: "",
};

/** Under this age the server answers with the paediatric pathway, not the adult model. */
const PAEDIATRIC_MAX_AGE = 16;

const num = (v: string | boolean | undefined) => (typeof v === "string" && v.trim() ? Number(v) : null);

export function Triage() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const { incidentId } = useParams();
  const navigate = useNavigate();
  const [incidents, setIncidents] = useState<IncidentSummary[]>([]);
  const [incident, setIncident] = useState<IncidentRead | null>(null);
  const [form, setForm] = useState<FormState>(EMPTY);
  const [result, setResult] = useState<TriageResult | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [patientId, setPatientId] = useState<string>("");
  // The form waits for the chosen incident: its chief complaint fills the form when it arrives,
  // and a form submitted before then would be refused by the browser for the empty complaint
  // (a tooltip only) or assessed without the incident's patient list.
  const [loadedFor, setLoadedFor] = useState<string | null>(null);
  const loadingIncident = Boolean(incidentId) && loadedFor !== incidentId;

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
        setPatientId((p) => p || (i.patients[0]?.id ?? ""));
        setForm((f) => ({ ...f, chief_complaint: (f.chief_complaint as string) || i.chief_complaint }));
        setLoadedFor(incidentId);
      },
      (err: unknown) => {
        setIncident(null);
        setMessage(err instanceof ApiError ? `Incident not loaded: ${err.message}` : "Incident not loaded");
        setLoadedFor(incidentId);
      },
    );
  }, [api, incidentId]);

  const set = (k: string) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const toggle = (k: string) => (e: { target: { checked: boolean } }) => setForm((f) => ({ ...f, [k]: e.target.checked }));

  const ageValue = num(form.age);
  const child = ageValue !== null && ageValue >= 0 && ageValue < PAEDIATRIC_MAX_AGE;

  async function assess(e: SyntheticEvent) {
    e.preventDefault();
    await run((via) => runAssessment(via));
  }

  async function runAssessment(api: ApiClient) {
    setMessage(null);
    setFieldErrors({});
    if (!form.sex) {
      setFieldErrors({ sex: "choose female, male or unknown" });
      return;
    }
    let patient = patientId || null;
    if (incident && !patient) {
      // The result belongs to a patient of the incident: record one from this form.
      try {
        const created = await api.post<{ id: string }>(`/api/incidents/${incident.id}/patients`, {
          age_years: num(form.age) !== null ? Math.floor(Number(form.age)) : null,
          sex: form.sex,
        });
        patient = created.id;
        setPatientId(created.id);
        setIncident(await api.get<IncidentRead>(`/api/incidents/${incident.id}`));
      } catch (err) {
        setMessage(err instanceof ApiError ? `Patient not recorded: ${err.message}` : "Patient not recorded");
        return;
      }
    }
    const body: TriageRequest = {
      incident_id: incident?.id ?? null,
      patient_id: patient,
      age: Number(form.age),
      sex: form.sex as TriageRequest["sex"],
      chief_complaint: String(form.chief_complaint),
      consciousness: String(form.consciousness) as TriageRequest["consciousness"],
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
    if (child) {
      body.oxygen_therapy = (form.oxygen_therapy as TriageRequest["oxygen_therapy"]) || null;
      body.respiratory_effort = (form.respiratory_effort as TriageRequest["respiratory_effort"]) || null;
      body.capillary_refill_seconds = num(form.capillary_refill_seconds);
      body.high_risk = Boolean(form.high_risk);
      body.expected_resources = num(form.expected_resources);
    }
    try {
      setResult(await endpoints.triage(api, body));
    } catch (err) {
      if (err instanceof ApiError) {
        setFieldErrors(err.fields);
        setMessage(err.message);
      } else setMessage("Could not reach the triage service");
    }
  }

  async function save() {
    if (!incident || !result) return;
    await run(async (api) => {
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
            reason:
              result.pathway === "paediatric"
                ? `Paediatric level ${result.level} (${result.scale})`
                : `KTAS ${result.level} by triage${result.model_version ? ` (${result.model_version})` : ""}`,
          });
        setMessage(`Saved: incident #${incident.number} is now priority ${result.level}.`);
        setIncident(await api.get<IncidentRead>(`/api/incidents/${incident.id}`));
      } catch (err) {
        setMessage(err instanceof ApiError ? `Not saved: ${err.message}` : "Not saved");
      }
    });
  }

  const news2Score = result?.news2?.total ?? null;
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
        {incident && (
          <label>
            Patient
            <select name="patient" value={patientId} onChange={(e) => setPatientId(e.target.value)}>
              <option value="">a new patient (recorded on the incident)</option>
              {incident.patients.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label} {p.age_years != null ? `${p.age_years} y` : ""} {p.acuity != null ? `(KTAS ${p.acuity})` : ""}
                </option>
              ))}
            </select>
          </label>
        )}
        {loadingIncident && <p role="status">Loading the incident…</p>}
        <form className="form" onSubmit={(e) => void assess(e)} aria-label="Triage assessment" aria-busy={busy}>
          <fieldset className="bare" disabled={loadingIncident}>
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
                <select name="sex" required value={String(form.sex)} onChange={set("sex")}>
                  <option value="">— choose —</option>
                  <option value="unknown">unknown</option>
                  <option value="female">female</option>
                  <option value="male">male</option>
                </select>
                {fieldErrors.sex && <span className="error">{fieldErrors.sex}</span>}
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
            {child && (
              <fieldset className="paediatric" data-testid="paediatric-fields">
                <legend>Child (under 16): paediatric pathway — ESI v4 paediatric rules and Bedside PEWS, not the adult model</legend>
                <div className="grid3">
                  <label>
                    Work of breathing
                    <select name="respiratory_effort" value={String(form.respiratory_effort)} onChange={set("respiratory_effort")}>
                      <option value="">not assessed</option>
                      <option value="normal">normal</option>
                      <option value="mild">mild increase</option>
                      <option value="moderate">moderate increase</option>
                      <option value="severe">severe increase or apnoea</option>
                    </select>
                    {fieldErrors.respiratory_effort && <span className="error">{fieldErrors.respiratory_effort}</span>}
                  </label>
                  <label>
                    Capillary refill (s)
                    <input
                      name="capillary_refill_seconds"
                      inputMode="decimal"
                      value={String(form.capillary_refill_seconds)}
                      onChange={set("capillary_refill_seconds")}
                    />
                    {fieldErrors.capillary_refill_seconds && <span className="error">{fieldErrors.capillary_refill_seconds}</span>}
                  </label>
                  <label>
                    Oxygen
                    <select name="oxygen_therapy" value={String(form.oxygen_therapy)} onChange={set("oxygen_therapy")}>
                      <option value="">as ticked above</option>
                      <option value="room_air">room air</option>
                      <option value="low_flow">under 4 L/min or under 50%</option>
                      <option value="high_flow">4 L/min or more, or 50% or more</option>
                    </select>
                  </label>
                  <label>
                    ED resources expected
                    <select name="expected_resources" value={String(form.expected_resources)} onChange={set("expected_resources")}>
                      <option value="">not known (two or more assumed)</option>
                      <option value="0">none</option>
                      <option value="1">one</option>
                      <option value="2">two or more</option>
                    </select>
                    {fieldErrors.expected_resources && <span className="error">{fieldErrors.expected_resources}</span>}
                  </label>
                </div>
                <label className="check">
                  <input type="checkbox" name="high_risk" checked={Boolean(form.high_risk)} onChange={toggle("high_risk")} />
                  High-risk situation (your judgement)
                </label>
              </fieldset>
            )}
            <label className="check">
              <input type="checkbox" name="injury" checked={Boolean(form.injury)} onChange={toggle("injury")} />
              Injury (trauma)
            </label>
            <button type="submit" className="primary" disabled={!can("triage:run") || busy}>
              Assess
            </button>
          </fieldset>
        </form>
      </section>
      <section className="panel" aria-labelledby="result-title" aria-live="polite">
        <h2 id="result-title">Result</h2>
        {message && <p role="status" data-testid="triage-message">{message}</p>}
        {result ? (
          <div data-testid="triage-result">
            {result.pathway === "paediatric" ? (
              <PaediatricResult result={result} />
            ) : (
              <>
                <p className={`acuity acuity-${result.level}`}>
                  Acuity: <strong>KTAS {result.level}</strong>
                </p>
                <p className={band ? `band-chip band-${band}` : ""}>
                  NEWS2: <strong>{news2Score ?? "not enough vitals"}</strong>
                  {band ? ` — ${BAND_LABEL[band]}` : ""}
                </p>
              </>
            )}
            {result.pathway !== "paediatric" && <AdultWhy result={result} asked={form} />}
            {incident && can("incidents:write") && (
              <button disabled={busy} type="button" className="primary" onClick={() => void save()}>
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

/* The model's features, in the words of the form; a feature of an input the form never asks
 * (arrival mode) or of a word not in the complaint is not a reason and is not shown. */
const FEATURE_LABEL: Record<string, string> = {
  age: "age",
  nrs_pain: "pain score",
  pain: "pain",
  sbp: "systolic BP",
  dbp: "diastolic BP",
  hr: "heart rate",
  rr: "respiratory rate",
  bt: "temperature",
  spo2: "SpO₂",
  injury: "injury",
  mental: "consciousness",
  shock_index: "shock index (HR / systolic BP)",
  pulse_pressure: "pulse pressure",
  news2_vitals: "NEWS2 of the vital signs",
};
// Yes/no features: what the value says, in words (a 0 is "absent", not the feature's name).
const BINARY_LABEL: Record<string, [string, string]> = {
  male: ["female", "male"],
  injury: ["no injury", "injury"],
  pain: ["no pain", "pain"],
  news2_red_vitals: ["no single NEWS2 parameter of 3", "a single NEWS2 parameter of 3"],
};

function reasonOf(x: TriageResult["explanation"][number], asked: FormState): string | null {
  const feature = x.feature;
  if (feature.startsWith("cc=")) return x.value ? `“${feature.slice(3)}” in the complaint` : null;
  if (feature.startsWith("concept=")) return x.value ? `complaint about ${feature.slice(8).replace(/_/g, " ")}` : null;
  if (feature.startsWith("arrival=")) return null; // not asked: the model's default
  if (feature === "male" && asked.sex !== "male" && asked.sex !== "female") return null;
  if (feature in BINARY_LABEL) {
    const [no, yes] = BINARY_LABEL[feature] as [string, string];
    return x.value === null ? null : x.value ? yes : no;
  }
  const label = FEATURE_LABEL[feature];
  if (!label || x.value === null) return null;
  return `${label}${feature === "mental" ? ":" : ""} ${featureValue(feature, x.value)}`;
}

/** An adult's level: the probabilities, why the safety rule chose it, and the reasons asked. */
function AdultWhy({ result, asked }: { result: TriageResult; asked: FormState }) {
  const probabilities = Object.entries(result.probabilities).sort(([a], [b]) => Number(a) - Number(b));
  const reasons = result.explanation
    .map((x) => ({ x, label: reasonOf(x, asked) }))
    .filter((r): r is { x: (typeof r)["x"]; label: string } => r.label !== null);
  return (
    <>
      {probabilities.length > 0 && (
        <table className="probabilities small" data-testid="probabilities">
          <caption>How likely each KTAS level is</caption>
          <tbody>
            {probabilities.map(([level, p]) => (
              <tr key={level} className={Number(level) === result.level ? "chosen" : ""}>
                <th scope="row">KTAS {level}</th>
                <td>
                  <span className="bar" style={{ width: `${Math.round(p * 100)}%` }} />
                </td>
                <td>{Math.round(p * 100)}%</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {result.safety_rule && (
        <p className="small" data-testid="safety-rule">
          {result.safety_rule}
        </p>
      )}
      {result.reasons.map((r) => (
        <p key={r} className="small">
          {r}
        </p>
      ))}
      {reasons.length > 0 && (
        <>
          <h3>What pushed the level</h3>
          <ul data-testid="why">
            {reasons.map(({ x, label }, i) => (
              <li key={i}>
                {label} {x.contribution > 0 ? `→ towards KTAS ${result.level}` : `→ away from KTAS ${result.level}`}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

const PEWS_ITEMS: Record<string, string> = {
  heart_rate: "heart rate",
  systolic_bp: "systolic BP",
  capillary_refill: "capillary refill",
  respiratory_rate: "respiratory rate",
  respiratory_effort: "work of breathing",
  spo2: "SpO₂",
  oxygen_therapy: "oxygen",
};

/** A child's result: the paediatric scale, Bedside PEWS and the rules that fired; no NEWS2. */
function PaediatricResult({ result }: { result: TriageResult }) {
  const pews = result.pews;
  const band = parseBand(pews?.band);
  const ranges = result.reference_ranges;
  return (
    <>
      <p className="pathway-label" data-testid="pathway">
        Paediatric pathway — not the adult KTAS model; NEWS2 is not used for children
      </p>
      <p className={`acuity acuity-${result.level}`}>
        Paediatric level: <strong>{result.level}</strong> <span className="muted">({result.scale})</span>
      </p>
      {pews && (
        <p className={band ? `band-chip band-${band}` : ""} data-testid="pews">
          Bedside PEWS: <strong>{pews.total}</strong>
          {band ? ` — ${BAND_LABEL[band]}` : ""} <span className="muted">(age group {pews.age_group})</span>
          {pews.not_measured.length > 0 && (
            <>
              <br />
              <span className="small">Not assessed (scored 0): {pews.not_measured.map((i) => PEWS_ITEMS[i] ?? i).join(", ")}</span>
            </>
          )}
        </p>
      )}
      {result.reasons.length > 0 && (
        <>
          <h3>Why</h3>
          <ul data-testid="reasons">
            {result.reasons.map((r, i) => (
              <li key={i}>{r}</li>
            ))}
          </ul>
        </>
      )}
      {ranges && (
        <p className="small muted" data-testid="reference-ranges">
          Normal for {ranges.age_group}: heart rate {ranges.heart_rate.low + 1}–{ranges.heart_rate.high - 1}, respiratory rate{" "}
          {ranges.respiratory_rate.low + 1}–{ranges.respiratory_rate.high - 1}, systolic {ranges.systolic_bp.low + 1}–
          {ranges.systolic_bp.high - 1}, SpO₂ above {ranges.spo2_min}%
        </p>
      )}
    </>
  );
}
