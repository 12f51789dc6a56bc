import type { VitalsReading } from "../api/pending";
import type { LatestVitals } from "../api/types";

export const FIELDS = ["hr", "spo2", "rr", "sbp", "dbp", "temp", "o2", "avpu"] as const;
type Field = (typeof FIELDS)[number];

/** The newest value of each parameter with its own time, and the newest NEWS2. */
export interface VitalsState {
  values: Partial<Record<Field, { value: number | boolean | string; ts: number }>>;
  news2: { total: number; band: string | null; ts: number } | null;
}

export const EMPTY_VITALS: VitalsState = { values: {}, news2: null };

export function fromLatest(latest: LatestVitals | null): VitalsState {
  if (!latest) return EMPTY_VITALS;
  const values: VitalsState["values"] = {};
  for (const f of FIELDS) {
    const v = latest.values[f];
    if (v) values[f] = { value: v.value, ts: Date.parse(v.ts) };
  }
  const n = latest.news2;
  return { values, news2: n ? { total: n.total, band: n.band, ts: Date.parse(n.ts) } : null };
}

/** A reading from history or a live `vitals:<id>` push (where `news2` is the scoring detail). */
export function normalize(raw: Record<string, unknown>): VitalsReading | null {
  if (typeof raw.ts !== "string") return null;
  const detail = raw.news2 && typeof raw.news2 === "object" ? (raw.news2 as { total?: number; band?: string }) : null;
  return {
    ...(raw as unknown as VitalsReading),
    news2: detail ? (detail.total ?? null) : typeof raw.news2 === "number" ? raw.news2 : null,
    band: detail ? (detail.band ?? null) : typeof raw.band === "string" ? raw.band : null,
  };
}

export function merge(state: VitalsState, reading: VitalsReading): VitalsState {
  const ts = Date.parse(reading.ts);
  const values = { ...state.values };
  for (const f of FIELDS) {
    const v = reading[f];
    if (v !== null && v !== undefined && ts >= (values[f]?.ts ?? -Infinity)) values[f] = { value: v, ts };
  }
  const news2 =
    typeof reading.news2 === "number" && ts >= (state.news2?.ts ?? -Infinity)
      ? { total: reading.news2, band: reading.band ?? null, ts }
      : state.news2;
  return { values, news2 };
}

/** What may be shown as current at `now`: parameters older than `staleMs` are left out, so an
 * old value is never shown beside fresh ones as if it were current. */
export function currentReading(state: VitalsState, now: number, staleMs: number): VitalsReading | null {
  const times = Object.values(state.values).map((v) => v.ts);
  if (state.news2) times.push(state.news2.ts);
  if (times.length === 0) return null;
  const newest = Math.max(...times);
  const reading: VitalsReading = { ts: new Date(newest).toISOString() };
  const fresh = (ts: number) => now - ts <= staleMs;
  for (const f of FIELDS) {
    const v = state.values[f];
    if (v && fresh(v.ts)) (reading as unknown as Record<string, unknown>)[f] = v.value;
  }
  if (state.news2 && fresh(state.news2.ts)) {
    reading.news2 = state.news2.total;
    reading.band = state.news2.band;
  }
  return reading;
}
