import type { VitalsReading } from "../api/types";

/* One strip per vital sign, each on its own axis and unit (HR 40–180 and temperature 35–40 on
 * one 0–140 axis hid every change in temperature), sharing the time axis and the cursor. */
export const SERIES: {
  key: keyof VitalsReading;
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
];
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
