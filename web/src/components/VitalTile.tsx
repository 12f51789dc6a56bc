import type { RiskRead, VitalsReading } from "../api/types";
import { BAND_LABEL, news2Band, parseBand, type News2Band } from "../lib/news2";
import { ago } from "../lib/time";
import { ARTEFACT_LABEL } from "../lib/vitals";
import { Sparkline } from "./Sparkline";

/** After this long without a reading the tile says so instead of showing the old values. */
export const STALE_AFTER_MS = 60_000;

export interface VitalTileProps {
  label: string;
  detail?: string;
  reading: VitalsReading | null;
  trend: number[];
  now: number;
  staleAfterMs?: number;
  onOpen?: () => void;
  /** The shipped deterioration model's latest live score (adults only). */
  risk?: RiskRead | null;
  /** Its recent scores (probabilities, oldest first), stored: they survive a reload. */
  riskTrend?: number[];
}

const TREND_TEXT: Record<RiskRead["trend"], string> = {
  rising: "↑ rising",
  falling: "↓ falling",
  steady: "→ steady",
  new: "first score",
};

/** "Deterioration risk 27% ↑ rising (was 21%)": percent, trend against ~15 min earlier. */
export function riskText(risk: RiskRead): string {
  const pct = (p: number) => `${Math.round(p * 100)}%`;
  const was = risk.previous != null && risk.trend !== "steady" ? ` (was ${pct(risk.previous)})` : "";
  return `Deterioration risk ${pct(risk.probability)} ${TREND_TEXT[risk.trend]}${was}`;
}

export function bandOf(reading: VitalsReading | null): News2Band | null {
  if (!reading) return null;
  const explicit = parseBand(reading.band);
  if (explicit) return explicit;
  return typeof reading.news2 === "number" ? news2Band(reading.news2) : null;
}

const FIELD_LABEL: Record<string, string> = { hr: "HR", spo2: "SpO₂", rr: "RR", sbp: "BP", dbp: "BP", temp: "Temp" };

function fmt(v: number | null | undefined, digits = 0): string {
  return typeof v === "number" ? v.toFixed(digits) : "—";
}

export function VitalTile({
  label,
  detail,
  reading,
  trend,
  now,
  staleAfterMs = STALE_AFTER_MS,
  onOpen,
  risk,
  riskTrend = [],
}: VitalTileProps) {
  const age = reading ? now - Date.parse(reading.ts) : null;
  const stale = age === null || age > staleAfterMs;
  const band = stale ? null : bandOf(reading);
  const current = stale ? null : reading;
  const cls = ["tile", stale ? "tile-stale" : band ? `band-${band}` : "band-none"].join(" ");
  const child = typeof current?.pews === "number";
  const artefacts = current?.artefacts ?? [];
  const flagged = new Map(artefacts.map((a) => [a.field, a.kind]));
  const mark = (...fields: string[]) => {
    const kind = fields.map((f) => flagged.get(f)).find(Boolean);
    return kind ? { className: "artefact", title: `Probable artefact: ${ARTEFACT_LABEL[kind] ?? kind}` } : {};
  };
  return (
    <article className={cls} aria-label={`Patient ${label}`} data-testid="vital-tile">
      <header className="tile-head">
        <h3>{label}</h3>
        {detail && <span className="muted">{detail}</span>}
      </header>
      {stale ? (
        <p className="stale-note" data-testid="stale">
          {age === null ? "No data received" : `No data for ${ago(age)}`}
        </p>
      ) : (
        <p className="band-text" data-testid="band">
          {child ? `PEWS ${fmt(current.pews)} (child)` : `NEWS2 ${fmt(current?.news2)}`} —{" "}
          {band ? BAND_LABEL[band] : "not scored"}
        </p>
      )}
      {!stale && !child && risk && (
        <div className="risk-row">
          <p
            className={`risk-text risk-${risk.trend}`}
            data-testid="risk"
            title={`Shipped deterioration model ${risk.model_version}: probability of in-hospital death, trained on ICU charts (PhysioNet 2012); an aid beside NEWS2, not a diagnosis. ${risk.hours_observed.toFixed(1)} h observed.`}
          >
            {riskText(risk)}
          </p>
          {riskTrend.length > 1 && (
            <span className={`risk-spark risk-${risk.trend}`} data-testid="risk-trend">
              <Sparkline values={riskTrend} label={`Deterioration risk trend for ${label}`} />
              <small className="muted">risk, last hour</small>
            </span>
          )}
        </div>
      )}
      {!stale && artefacts.length > 0 && (
        <p className="artefact-note" role="status" data-testid="artefacts">
          Probable artefact:{" "}
          {[...new Set(artefacts.map((a) => `${FIELD_LABEL[a.field] ?? a.field} (${ARTEFACT_LABEL[a.kind] ?? a.kind})`))].join(
            ", ",
          )}{" "}
          — check the sensor
        </p>
      )}
      <dl className="vitals">
        <div>
          <dt>HR <small>/min</small></dt>
          <dd {...mark("hr")}>{fmt(current?.hr)}</dd>
        </div>
        <div>
          <dt>SpO₂ <small>%</small></dt>
          <dd {...mark("spo2")}>{fmt(current?.spo2)}</dd>
        </div>
        <div>
          <dt>RR <small>/min</small></dt>
          <dd {...mark("rr")}>{fmt(current?.rr)}</dd>
        </div>
        <div>
          <dt>BP <small>mmHg</small></dt>
          <dd {...mark("sbp", "dbp")}>{current?.sbp != null ? `${fmt(current.sbp)}/${fmt(current.dbp)}` : "—"}</dd>
        </div>
        <div>
          <dt>Temp <small>°C</small></dt>
          <dd {...mark("temp")}>{fmt(current?.temp, 1)}</dd>
        </div>
      </dl>
      <div className="tile-foot">
        <Sparkline values={trend} label={`Heart rate trend for ${label}`} />
        {onOpen && (
          <button type="button" onClick={onOpen}>
            History
          </button>
        )}
      </div>
    </article>
  );
}
