import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { endpoints, itemsOf, type Alert, type VitalsReading } from "../api/pending";
import type { IncidentPage, IncidentRead, PatientRead } from "../api/types";
import { useApp, useChannel, useNow, useResync } from "../app/context";
import { HistoryChart } from "../components/HistoryChart";
import { VitalTile } from "../components/VitalTile";
import { ago } from "../lib/time";

const TREND_POINTS = 30;

interface Monitored {
  patient: PatientRead;
  incident: IncidentRead;
}

/** A reading from a `vitals:<id>` message, whether it carries one reading or a batch. */
export function readingsOf(data: unknown): VitalsReading[] {
  if (!data || typeof data !== "object") return [];
  const d = data as { readings?: unknown; ts?: unknown; reading?: unknown };
  if (Array.isArray(d.readings)) return d.readings as VitalsReading[];
  if (d.reading && typeof d.reading === "object") return [d.reading as VitalsReading];
  return typeof d.ts === "string" ? [d as VitalsReading] : [];
}

export function Monitor() {
  const { api, can } = useApp();
  const navigate = useNavigate();
  const now = useNow(1000);
  const [monitored, setMonitored] = useState<Monitored[]>([]);

  const load = useCallback(async () => {
    const page = await api.get<IncidentPage>(
      "/api/incidents?status=new&status=triaged&status=dispatched&status=on_scene&status=transporting&status=at_hospital&limit=50",
    );
    const withPatients = page.items.filter((i) => i.patient_count > 0);
    const details = await Promise.all(withPatients.map((i) => api.get<IncidentRead>(`/api/incidents/${i.id}`)));
    setMonitored(details.flatMap((incident) => incident.patients.map((patient) => ({ patient, incident }))));
  }, [api]);
  useEffect(() => {
    void load().catch(() => undefined);
  }, [load]);
  useChannel("incidents", (m) => {
    if (m.type === "PatientAdded" || m.type === "IncidentCreated" || m.type === "IncidentStatusChanged")
      void load().catch(() => undefined);
  });

  return (
    <div className="monitor">
      <section aria-labelledby="monitor-title" className="grow">
        <h2 id="monitor-title">Patient monitor</h2>
        <div className="tiles" data-testid="tiles">
          {monitored.map(({ patient, incident }) => (
            <PatientTile
              key={patient.id}
              patient={patient}
              incident={incident}
              now={now}
              onOpen={() => void navigate(`/monitor/${patient.id}`)}
            />
          ))}
          {monitored.length === 0 && <p className="muted">No patients on open incidents.</p>}
        </div>
      </section>
      {can("alerts:read") && <Alerts now={now} />}
    </div>
  );
}

function PatientTile({
  patient,
  incident,
  now,
  onOpen,
}: {
  patient: PatientRead;
  incident: IncidentRead;
  now: number;
  onOpen: () => void;
}) {
  const { api } = useApp();
  const [latest, setLatest] = useState<VitalsReading | null>(null);
  const [trend, setTrend] = useState<number[]>([]);

  const load = useCallback(async () => {
    const until = new Date();
    const since = new Date(until.getTime() - 15 * 60_000);
    const [l, h] = await Promise.all([
      endpoints.latestVitals(api, patient.id).catch(() => null),
      endpoints.vitalsHistory(api, patient.id, since, until).catch(() => null),
    ]);
    setLatest(l ?? null);
    setTrend(itemsOf(h).flatMap((r) => (typeof r.hr === "number" ? [r.hr] : [])).slice(-TREND_POINTS));
  }, [api, patient.id]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), [`vitals:${patient.id}`]);
  useChannel(`vitals:${patient.id}`, (m) => {
    const rs = readingsOf(m.data);
    const last = rs[rs.length - 1];
    if (!last) return;
    setLatest(last);
    setTrend((t) => [...t, ...rs.flatMap((r) => (typeof r.hr === "number" ? [r.hr] : []))].slice(-TREND_POINTS));
  });

  return (
    <VitalTile
      label={`${patient.label}${patient.name ? ` · ${patient.name}` : ""}`}
      detail={`#${incident.number} ${incident.chief_complaint}`}
      reading={latest}
      trend={trend}
      now={now}
      onOpen={onOpen}
    />
  );
}

function Alerts({ now }: { now: number }) {
  const { api, can } = useApp();
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const a = await endpoints.alerts(api).catch(() => null);
    setAlerts(a === null ? null : itemsOf(a).filter((x) => !x.acknowledged_at));
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), ["alerts"]);
  useChannel("alerts", () => void load());

  async function ack(id: string) {
    try {
      await endpoints.acknowledgeAlert(api, id);
      setAlerts((list) => list?.filter((a) => a.id !== id) ?? null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "Not acknowledged");
    }
  }

  return (
    <aside className="panel alerts" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts {alerts ? `(${alerts.length})` : ""}</h2>
      {error && <p role="alert" className="error">{error}</p>}
      {alerts === null ? (
        <p className="muted">Alerts are not available from this server yet (telemetry API pending).</p>
      ) : (
        <ul className="list" data-testid="alerts">
          {alerts.map((a) => (
            <li key={a.id} className={`alert sev-${a.severity ?? "unknown"}`}>
              <strong>{a.severity ? `${a.severity.toUpperCase()}: ` : ""}</strong>
              {a.message}
              <br />
              <span className="muted small">{ago(now - Date.parse(a.raised_at))} ago</span>
              {can("alerts:write") && (
                <button type="button" onClick={() => void ack(a.id)}>
                  Acknowledge
                </button>
              )}
            </li>
          ))}
          {alerts.length === 0 && <li className="muted">No open alerts.</li>}
        </ul>
      )}
    </aside>
  );
}

const RANGES = [
  { label: "15 min", ms: 15 * 60_000 },
  { label: "1 h", ms: 60 * 60_000 },
  { label: "6 h", ms: 6 * 60 * 60_000 },
  { label: "24 h", ms: 24 * 60 * 60_000 },
];

export function PatientHistory() {
  const { api } = useApp();
  const { patientId = "" } = useParams();
  const [rangeMs, setRangeMs] = useState(RANGES[1]?.ms ?? 3_600_000);
  const [readings, setReadings] = useState<VitalsReading[] | null | undefined>(undefined);

  const load = useCallback(async () => {
    const until = new Date();
    const h = await endpoints.vitalsHistory(api, patientId, new Date(until.getTime() - rangeMs), until).catch(() => null);
    setReadings(h === null ? null : itemsOf(h));
  }, [api, patientId, rangeMs]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), [`vitals:${patientId}`]);
  useChannel(`vitals:${patientId}`, (m) => {
    const rs = readingsOf(m.data);
    setReadings((prev) => (prev ? [...prev, ...rs] : prev));
  });

  return (
    <section className="panel" aria-labelledby="history-title">
      <p>
        <Link to="/monitor">← Back to the monitor</Link>
      </p>
      <h2 id="history-title">Vitals history</h2>
      <div role="group" aria-label="Range" className="actions">
        {RANGES.map((r) => (
          <button key={r.label} type="button" aria-pressed={r.ms === rangeMs} onClick={() => setRangeMs(r.ms)}>
            Last {r.label}
          </button>
        ))}
      </div>
      {readings === null ? (
        <p className="muted">Vitals history is not available from this server yet (telemetry API pending).</p>
      ) : readings === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <HistoryChart readings={readings} />
      )}
    </section>
  );
}
