import type { ArtefactRead, LatestVitals, VitalsReading } from "../api/types";

export const FIELDS = ["hr", "spo2", "rr", "sbp", "dbp", "temp", "o2", "avpu"] as const;
type Field = (typeof FIELDS)[number];

export type Artefact = ArtefactRead;

/** The newest value of each parameter with its own time, the newest NEWS2 (an adult's) or PEWS
 * (a child's), and the probable artefacts of the newest reading of each parameter. */
export interface VitalsState {
  values: Partial<Record<Field, { value: number | boolean | string; ts: number; artefact?: string }>>;
  news2: { total: number; band: string | null; ts: number } | null;
  pews?: { total: number; band: string | null; ts: number } | null;
}

export const EMPTY_VITALS: VitalsState = { values: {}, news2: null, pews: null };

/** Human wording of an artefact kind (the server's names are snake_case). */
export const ARTEFACT_LABEL: Record<string, string> = {
  lead_off: "lead off",
  motion: "motion",
  probe_off: "probe off",
  damped_line: "damped line",
  flat_line: "frozen value",
  anomaly: "unusual transient",
};

export function fromLatest(latest: LatestVitals | null): VitalsState {
  if (!latest) return EMPTY_VITALS;
  const values: VitalsState["values"] = {};
  for (const f of FIELDS) {
    const v = latest.values[f];
    // A flagged value stays marked after a reload (a lead off's 0 is never shown as a heart rate).
    if (v) values[f] = v.artefact ? { value: v.value, ts: Date.parse(v.ts), artefact: v.artefact } : { value: v.value, ts: Date.parse(v.ts) };
  }
  const n = latest.news2;
  const p = (latest as { pews?: { total: number; band: string; ts: string } | null }).pews;
  return {
    values,
    news2: n ? { total: n.total, band: n.band, ts: Date.parse(n.ts) } : null,
    pews: p ? { total: p.total, band: p.band, ts: Date.parse(p.ts) } : null,
  };
}

export function merge(state: VitalsState, reading: VitalsReading): VitalsState {
  const ts = Date.parse(reading.ts);
  const values = { ...state.values };
  const flagged = new Map((reading.artefacts ?? []).map((a) => [a.field, a.kind]));
  for (const f of FIELDS) {
    const v = reading[f];
    if (v !== null && v !== undefined && ts >= (values[f]?.ts ?? -Infinity)) {
      const artefact = flagged.get(f);
      values[f] = artefact ? { value: v, ts, artefact } : { value: v, ts };
    }
  }
  const news2 =
    typeof reading.news2 === "number" && ts >= (state.news2?.ts ?? -Infinity)
      ? { total: reading.news2, band: reading.band ?? null, ts }
      : state.news2;
  const pews =
    typeof reading.pews === "number" && ts >= (state.pews?.ts ?? -Infinity)
      ? { total: reading.pews, band: reading.band ?? null, ts }
      : (state.pews ?? null);
  return { values, news2, pews };
}

/** Marks the readings the server judged later (flat lines, the window model) as artefacts. */
export function markArtefacts(state: VitalsState, flagged: { ts: string; artefacts: Artefact[] }[]): VitalsState {
  const values = { ...state.values };
  for (const r of flagged) {
    const ts = Date.parse(r.ts);
    for (const a of r.artefacts) {
      const f = a.field as Field;
      const current = values[f];
      if (current && current.ts === ts) values[f] = { ...current, artefact: a.kind };
    }
  }
  return { ...state, values };
}

/** What may be shown as current at `now`: parameters older than `staleMs` are left out, so an
 * old value is never shown beside fresh ones as if it were current. */
export function currentReading(state: VitalsState, now: number, staleMs: number): VitalsReading | null {
  const times = Object.values(state.values).map((v) => v.ts);
  if (state.news2) times.push(state.news2.ts);
  if (state.pews) times.push(state.pews.ts);
  if (times.length === 0) return null;
  const newest = Math.max(...times);
  const reading: VitalsReading = { ts: new Date(newest).toISOString() };
  const fresh = (ts: number) => now - ts <= staleMs;
  const artefacts: Artefact[] = [];
  for (const f of FIELDS) {
    const v = state.values[f];
    if (v && fresh(v.ts)) {
      (reading as unknown as Record<string, unknown>)[f] = v.value;
      if (v.artefact) artefacts.push({ field: f, kind: v.artefact });
    }
  }
  reading.artefacts = artefacts;
  if (state.pews && fresh(state.pews.ts)) {
    // A child: PEWS, and never a NEWS2 beside it.
    reading.pews = state.pews.total;
    reading.band = state.pews.band;
  } else if (state.news2 && fresh(state.news2.ts)) {
    reading.news2 = state.news2.total;
    reading.band = state.news2.band;
  }
  return reading;
}
