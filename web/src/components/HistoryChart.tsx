import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { VitalsReading } from "../api/pending";

/* One strip per vital sign, each on its own axis and unit (HR 40–180 and temperature 35–40 on
 * one 0–140 axis hid every change in temperature), sharing the time axis and the cursor. */
export const SERIES: { key: keyof VitalsReading; label: string; unit: string; stroke: string; digits: number }[] = [
  { key: "hr", label: "Heart rate", unit: "/min", stroke: "#c0392b", digits: 0 },
  { key: "spo2", label: "SpO₂", unit: "%", stroke: "#1f6fb2", digits: 0 },
  { key: "rr", label: "Respiratory rate", unit: "/min", stroke: "#2e7d32", digits: 0 },
  { key: "sbp", label: "Systolic BP", unit: "mmHg", stroke: "#6a1b9a", digits: 0 },
  { key: "temp", label: "Temperature", unit: "°C", stroke: "#e67e22", digits: 1 },
];
const STRIP_HEIGHT = 120;

function clock(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Vitals history; drag across a strip to zoom all of them, double-click to reset. */
export function HistoryChart({ readings }: { readings: VitalsReading[] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xs = readings.map((r) => Date.parse(r.ts) / 1000);
    const sync = uPlot.sync(`vitals-${Math.random().toString(36).slice(2)}`);
    const width = () => Math.max(320, el.clientWidth);
    const plots = SERIES.map((s, i) => {
      const strip = document.createElement("div");
      strip.setAttribute("data-testid", `history-${s.key}`);
      el.appendChild(strip);
      const values = readings.map((r) => (typeof r[s.key] === "number" ? (r[s.key] as number) : null));
      const last = i === SERIES.length - 1;
      return new uPlot(
        {
          width: width(),
          height: STRIP_HEIGHT + (last ? 30 : 0),
          cursor: { drag: { x: true, y: false }, sync: { key: sync.key } },
          legend: { show: false },
          scales: { x: { time: true } },
          series: [{}, { label: `${s.label} ${s.unit}`, stroke: s.stroke, width: 1.5, spanGaps: false }],
          axes: [
            // Time labels only under the last strip, at least 90 px apart: they never collide.
            { show: last, space: 90, values: (_u, ticks) => ticks.map(clock) },
            {
              label: `${s.label} (${s.unit})`,
              labelSize: 16,
              size: 64,
              stroke: s.stroke,
              values: (_u, ticks) => ticks.map((t) => t.toFixed(s.digits)),
            },
          ],
        },
        [xs, values],
        strip,
      );
    });
    const resize = () => plots.forEach((p, i) => p.setSize({ width: width(), height: STRIP_HEIGHT + (i === plots.length - 1 ? 30 : 0) }));
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plots.forEach((p) => p.destroy());
      el.replaceChildren();
    };
  }, [readings]);
  return (
    <div>
      <div ref={host} className="chart" role="img" aria-label="Vitals history: one strip per vital sign, each with its own axis" />
      {readings.length === 0 && <p className="muted">No readings in this range.</p>}
    </div>
  );
}
