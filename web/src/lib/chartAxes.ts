import type { VitalsReading } from "../api/types";

/** A row of the history chart: a reading's values, or a live deterioration score in percent
 * (`risk`) at its own time. */
export type ChartRow = Omit<VitalsReading, "ts"> & { ts: string; risk?: number | null };

/* One strip per vital sign, each on its own axis and unit (HR 40–180 and temperature 35–40 on
 * one 0–140 axis hid every change in temperature), sharing the time axis and the cursor; the
 * deterioration risk last, beside them, never mixed into a vital's axis. */
export const SERIES: {
  key: keyof ChartRow;
  label: string;
  unit: string;
  stroke: string;
  digits: number;
  /** The least span the axis shows: a steady value is drawn flat, not magnified noise. */
  span: number;
}[] = [
  { key: "hr", label: "HR", unit: "/min", stroke: "#c0392b", digits: 0, span: 20 },
  { key: "spo2", label: "SpO₂", unit: "%", stroke: "#1f6fb2", digits: 0, span: 6 },
  { key: "rr", label: "RR", unit: "/min", stroke: "#2e7d32", digits: 0, span: 8 },
  { key: "sbp", label: "SBP", unit: "mmHg", stroke: "#6a1b9a", digits: 0, span: 30 },
  { key: "temp", label: "Temp", unit: "°C", stroke: "#e67e22", digits: 1, span: 1.5 },
  { key: "risk", label: "Risk", unit: "%", stroke: "#8a1c00", digits: 0, span: 10 },
];

/** Stored risk scores as chart rows (percent), merged with the readings' rows by time. */
export function withRisk(rows: ChartRow[], scores: { ts: string; probability: number }[]): ChartRow[] {
  const risk: ChartRow[] = scores.map((s) => ({ ts: s.ts, risk: Math.round(s.probability * 1000) / 10 }));
  return [...rows, ...risk].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
}
/** `rows` with `added` in their places by time. Pushed readings usually come after what is
 * shown, but not always: a device's readings queued while it was offline arrive after a newer
 * one (the server's replay window accepts them), and a chart or trend line drawn in arrival
 * order would then go back in time. Equal times keep arrival order. */
export function inTimeOrder<T extends { ts: string }>(rows: T[], added: T[]): T[] {
  if (added.length === 0) return rows;
  const all = [...rows, ...added];
  const times = all.map((r) => Date.parse(r.ts));
  if (times.every((t, i) => i === 0 || t >= (times[i - 1] ?? t))) return all;
  return all
    .map((row, i) => ({ row, t: times[i] ?? 0, i }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.row);
}
/** Tick labels: with seconds when the ticks are less than a minute apart, so none repeat. */
export function clockLabels(ticks: number[]): string[] {
  const step = ticks.length > 1 ? Math.min(...ticks.slice(1).map((t, i) => t - (ticks[i] ?? t))) : 60;
  const withSeconds = step < 60;
  return ticks.map((t) =>
    new Date(t * 1000).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
      ...(withSeconds ? { second: "2-digit" } : {}),
    }),
  );
}

/** The value axis: the data's range, widened to at least `span` around its middle. */
export function valueRange(min: number | null, max: number | null, span: number): [number, number] {
  if (min === null || max === null) return [0, span];
  const middle = (min + max) / 2;
  const half = Math.max(span, (max - min) * 1.2) / 2;
  return [middle - half, middle + half];
}

/** The chosen range as the time axis: an empty point at each end of the window the readings
 * were asked for, so "Last 15 min" spans 15 minutes even when the readings span 2 seconds (the
 * axis otherwise fits the data). Zooming still works, and resetting the zoom returns to the
 * whole window. Times in seconds; `columns` are the value series, aligned with `xs`. */
export function framed(
  xs: number[],
  columns: (number | null)[][],
  window: { start: number; end: number } | null,
): { xs: number[]; columns: (number | null)[][] } {
  if (!window) return { xs, columns };
  const first = xs[0];
  const last = xs[xs.length - 1];
  const lead = first === undefined || window.start < first;
  const trail = last === undefined || window.end > last;
  return {
    xs: [...(lead ? [window.start] : []), ...xs, ...(trail ? [window.end] : [])],
    columns: columns.map((c) => [...(lead ? [null] : []), ...c, ...(trail ? [null] : [])]),
  };
}
