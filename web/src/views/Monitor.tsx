import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { endpoints } from "../api/endpoints";
import type {
  AlertRead as Alert,
  ArtefactsPush,
  IncidentPage,
  IncidentRead,
  PatientRead,
  RiskRead,
  VitalsPush,
  VitalsReading,
} from "../api/types";
import { useApp, useChannel, useNow, useResync } from "../app/context";
import { useSubmit } from "../app/useSubmit";
import { HistoryChart } from "../components/HistoryChart";
import { STALE_AFTER_MS, VitalTile } from "../components/VitalTile";
import {
  EMPTY_VITALS,
  currentReading,
  fromLatest,
  markArtefacts,
  merge,
  type VitalsState,
} from "../lib/vitals";
import { sortAlerts } from "../lib/alerts";
import { applyPushed, incidentsChannel } from "../lib/live";
import { OPEN_STATUSES } from "../lib/queue";
import { BAND_LABEL, parseBand } from "../lib/news2";
import { inTimeOrder, withRisk, type ChartRow } from "../lib/chartAxes";
import { ago } from "../lib/time";

const TREND_POINTS = 30;
/** The tile's risk trend: the scores of the last hour (stored, so a reload keeps them). */
const RISK_WINDOW_MS = 60 * 60_000;

interface Monitored {
  patient: PatientRead;
  incident: IncidentRead;
}

/** The readings of a `vitals` message on `vitals:<patient_id>` (VitalsPush: the history's
 * reading schema, so nothing to reconcile). */
export function readingsOf(data: unknown): VitalsReading[] {
  return (data as VitalsPush | null)?.readings ?? [];
}

export function Monitor() {
  const { api, can, me } = useApp();
  const navigate = useNavigate();
  const now = useNow(1000);
  const [incidents, setIncidents] = useState<IncidentRead[]>([]);
  const monitored = useMemo<Monitored[]>(
    () => incidents.flatMap((incident) => incident.patients.map((patient) => ({ patient, incident }))),
    [incidents],
  );

  const load = useCallback(async () => {
    const qs = OPEN_STATUSES.map((s) => `status=${s}`).join("&");
    const page = await api.get<IncidentPage>(`/api/incidents?${qs}&limit=50`);
    const withPatients = page.items.filter((i) => i.patient_count > 0);
    setIncidents(await Promise.all(withPatients.map((i) => api.get<IncidentRead>(`/api/incidents/${i.id}`))));
  }, [api]);
  useEffect(() => {
    void load().catch(() => undefined);
  }, [load]);
  // Each changed incident arrives whole (IncidentRead, as this account reads it): patients come
  // and go with it, without asking the server again.
  useChannel(incidentsChannel(me), (m) => {
    if (m.type !== "incident") return;
    const incident = m.data as IncidentRead;
    const open = (OPEN_STATUSES as readonly string[]).includes(incident.status) && incident.patients.length > 0;
    // Newest call first, as the list returns them.
    setIncidents((list) => applyPushed(list, incident, open).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)));
  });
  useResync(() => void load().catch(() => undefined));

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
              onOpen={() => void navigate(`/monitor/${patient.id}?incident=${incident.id}`)}
            />
          ))}
          {monitored.length === 0 && <p className="muted">No patients on open incidents.</p>}
        </div>
      </section>
      {can("alerts:read") && (
        <Alerts
          now={now}
          patientLabel={(id) => {
            const m = monitored.find((x) => x.patient.id === id);
            return m ? `${m.patient.label} (#${m.incident.number})` : id.slice(0, 8);
          }}
        />
      )}
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
  const [vitals, setVitals] = useState<VitalsState>(EMPTY_VITALS);
  // The heart-rate line's points with their times, so a late reading takes its place.
  const [trend, setTrend] = useState<{ ts: string; hr: number }[]>([]);
  const [risk, setRisk] = useState<RiskRead | null>(null);
  const [riskTrend, setRiskTrend] = useState<RiskRead[]>([]);

  const load = useCallback(async () => {
    const end = new Date();
    const start = new Date(end.getTime() - RISK_WINDOW_MS);
    const [l, h] = await Promise.all([
      endpoints.latestVitals(api, patient.id).catch(() => null),
      // Four 15-minute spans: the heart-rate line keeps its 30-second points over the last one.
      endpoints.vitalsHistory(api, patient.id, start, end, TREND_POINTS * 4).catch(() => null),
    ]);
    setVitals(fromLatest(l));
    setRisk(l?.risk ?? null);
    const hr = h?.series?.hr ?? [];
    const since = end.getTime() - 15 * 60_000; // the heart-rate line: the last 15 minutes
    setTrend(hr.filter((p) => Date.parse(p.ts) >= since).map((p) => ({ ts: p.ts, hr: p.value })));
    setRiskTrend(withScore(h?.risk ?? [], l?.risk ?? null).slice(-TREND_POINTS));
  }, [api, patient.id]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), [`vitals:${patient.id}`]);
  useChannel(`vitals:${patient.id}`, (m) => {
    if (m.type === "artefacts") {
      // Judged after the fact (frozen values, the window model): mark, never hide.
      const flagged = (m.data as ArtefactsPush).readings;
      setVitals((v) => markArtefacts(v, flagged));
      return;
    }
    if (m.type === "risk") {
      // Scored by the worker after the readings were stored (the deterioration model).
      const score = m.data as RiskRead;
      setRisk(score);
      setRiskTrend((t) => withScore(t, score).slice(-TREND_POINTS));
      return;
    }
    const rs = readingsOf(m.data);
    if (rs.length === 0) return;
    setVitals((v) => rs.reduce(merge, v));
    const points = rs.flatMap((r) => (typeof r.hr === "number" ? [{ ts: r.ts, hr: r.hr }] : []));
    setTrend((t) => inTimeOrder(t, points).slice(-TREND_POINTS));
  });

  return (
    <VitalTile
      label={`${patient.label}${patient.name ? ` · ${patient.name}` : ""}${
        patient.age_years != null && patient.age_years < 16 ? ` · child, ${patient.age_years} y` : ""
      }`}
      detail={`#${incident.number} ${incident.chief_complaint}`}
      reading={currentReading(vitals, now, STALE_AFTER_MS)}
      trend={trend.map((p) => p.hr)}
      now={now}
      onOpen={onOpen}
      risk={risk}
      riskTrend={riskTrend.map((r) => r.probability)}
    />
  );
}

/** `scores` with `score` in its place by time (a push may repeat one the history returned). */
export function withScore(scores: RiskRead[], score: RiskRead | null): RiskRead[] {
  if (!score) return scores;
  const at = Date.parse(score.ts);
  return [...scores.filter((s) => Date.parse(s.ts) !== at), score].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
}

function Alerts({ now, patientLabel }: { now: number; patientLabel: (id: string) => string }) {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const a = await endpoints.openAlerts(api).catch(() => null);
    setAlerts(a === null ? null : sortAlerts(a.items));
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), ["alerts"]);
  // Each changed alert arrives as the list returns it: kept while raised, sorted as the server does.
  useChannel("alerts", (m) => {
    if (m.type !== "alert") return;
    const alert = m.data as Alert;
    setAlerts((list) => (list === null ? list : sortAlerts(applyPushed(list, alert, alert.status === "raised"))));
  });

  async function ack(id: string) {
    await run(async (api) => {
      try {
        await endpoints.acknowledgeAlert(api, id);
        setAlerts((list) => list?.filter((a) => a.id !== id) ?? null);
      } catch (e) {
        setError(e instanceof ApiError ? e.message : "Not acknowledged");
      }
    });
  }

  return (
    <aside className="panel alerts" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts {alerts ? `(${alerts.length})` : ""}</h2>
      {error && <p role="alert" className="error">{error}</p>}
      {alerts === null ? (
        <p className="muted">Alerts could not be loaded.</p>
      ) : (
        <ul className="list" data-testid="alerts">
          {alerts.map((a) => (
            <AlertItem key={a.id} alert={a} now={now} patient={patientLabel(a.patient_id)}>
              {can("alerts:write") && (
                <button disabled={busy} type="button" onClick={() => void ack(a.id)}>
                  Acknowledge
                </button>
              )}
            </AlertItem>
          ))}
          {alerts.length === 0 && <li className="muted">No open alerts.</li>}
        </ul>
      )}
    </aside>
  );
}

function levelLabel(level: string): string {
  const band = parseBand(level);
  if (band) return BAND_LABEL[band];
  return level === "stale" ? "No data" : level;
}

/** One alert: its level as colour and words, the current score and its peak. */
function AlertItem({ alert: a, now, patient, children }: { alert: Alert; now: number; patient: string; children: ReactNode }) {
  const scale = a.pews != null ? "PEWS" : "NEWS2";
  const current = a.pews ?? a.news2;
  const band = parseBand(a.band);
  return (
    <li className={`alert level-${a.level}`} data-testid="alert">
      <strong className="level-label">{levelLabel(a.level).toUpperCase()}</strong>{" "}
      {a.kind === "news2" || a.kind === "pews" ? "" : a.kind.replace(/_/g, " ")} · {patient}
      {current != null && (
        <span className="scores">
          <br />
          <strong>
            {scale} {current}
            {a.pews != null ? " (child)" : ""}
          </strong>{" "}
          now{band ? ` — ${BAND_LABEL[band]}` : ""}
          {a.peak != null && a.peak !== current ? ` · peak ${a.peak}` : ""}
        </span>
      )}
      <br />
      <span className="muted small">
        raised {ago(now - Date.parse(a.raised_at))} ago
        {a.scored_at ? ` · scored ${ago(now - Date.parse(a.scored_at))} ago` : ""}
        {a.status === "acknowledged" ? " · acknowledged" : ""}
      </span>
      {children}
    </li>
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
  const [readings, setReadings] = useState<ChartRow[] | null | undefined>(undefined);
  const [shown, setShown] = useState<{ start: number; end: number } | null>(null);
  const [search] = useSearchParams();
  const incidentId = search.get("incident");
  const [who, setWho] = useState<string | null>(null);
  useEffect(() => {
    if (!incidentId) return;
    api.get<IncidentRead>(`/api/incidents/${encodeURIComponent(incidentId)}`).then(
      (i) => {
        const p = i.patients.find((x) => x.id === patientId);
        if (p) setWho(`${p.label}${p.name ? ` · ${p.name}` : ""}${p.age_years != null ? `, ${p.age_years} y` : ""} — #${i.number} ${i.chief_complaint}`);
      },
      () => undefined,
    );
  }, [api, incidentId, patientId]);

  const load = useCallback(async () => {
    const end = new Date();
    const h = await endpoints.vitalsHistory(api, patientId, new Date(end.getTime() - rangeMs), end, 500).catch(() => null);
    setShown({ start: end.getTime() - rangeMs, end: end.getTime() });
    setReadings(h === null ? null : withRisk(seriesToReadings(h.series ?? {}), h.risk ?? []));
  }, [api, patientId, rangeMs]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), [`vitals:${patientId}`]);
  useChannel(`vitals:${patientId}`, (m) => {
    if (m.type === "artefacts") return;
    if (m.type === "risk") {
      const score = m.data as RiskRead;
      setReadings((prev) => (prev ? withRisk(prev, [score]) : prev));
      return;
    }
    const rs = readingsOf(m.data);
    setReadings((prev) => (prev ? inTimeOrder(prev, rs) : prev));
  });

  return (
    <section className="panel" aria-labelledby="history-title">
      <p>
        <Link to="/monitor">← Back to the monitor</Link>
      </p>
      <h2 id="history-title" data-testid="history-title">Vitals history{who ? ` — ${who}` : ""}</h2>
      <div role="group" aria-label="Range" className="actions">
        {RANGES.map((r) => (
          <button key={r.label} type="button" aria-pressed={r.ms === rangeMs} onClick={() => setRangeMs(r.ms)}>
            Last {r.label}
          </button>
        ))}
      </div>
      {readings === null ? (
        <p className="muted">Vitals history could not be loaded.</p>
      ) : readings === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <HistoryChart readings={readings} range={shown} />
      )}
    </section>
  );
}

/** Downsampled per-parameter series ({hr: [{ts, value}], ...}) as rows for the chart. */
function seriesToReadings(series: Record<string, { ts: string; value: number }[]>): VitalsReading[] {
  const rows = new Map<string, VitalsReading>();
  for (const [field, points] of Object.entries(series)) {
    for (const p of points) {
      const row = rows.get(p.ts) ?? { ts: p.ts };
      (row as unknown as Record<string, unknown>)[field] = p.value;
      rows.set(p.ts, row);
    }
  }
  return [...rows.values()].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
}
