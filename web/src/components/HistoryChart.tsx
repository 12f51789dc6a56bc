import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { VitalsReading } from "../api/types";

const SERIES: { key: keyof VitalsReading; label: string; stroke: string }[] = [
  { key: "hr", label: "HR /min", stroke: "#c0392b" },
  { key: "spo2", label: "SpO₂ %", stroke: "#1f6fb2" },
  { key: "rr", label: "RR /min", stroke: "#2e7d32" },
  { key: "sbp", label: "SBP mmHg", stroke: "#6a1b9a" },
  { key: "temp", label: "Temp °C", stroke: "#e67e22" },
];

/** Vitals history; drag across the plot to zoom, double-click to reset. */
export function HistoryChart({ readings }: { readings: VitalsReading[] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xs = readings.map((r) => Date.parse(r.ts) / 1000);
    const data: uPlot.AlignedData = [
      xs,
      ...SERIES.map((s) => readings.map((r) => (typeof r[s.key] === "number" ? (r[s.key] as number) : null))),
    ];
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 320,
        cursor: { drag: { x: true, y: false } },
        series: [{}, ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, spanGaps: false }))],
        axes: [{}, { label: "value" }],
      },
      data,
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(320, el.clientWidth), height: 320 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [readings]);
  return (
    <div>
      <div ref={host} className="chart" role="img" aria-label="Vitals history chart" />
      {readings.length === 0 && <p className="muted">No readings in this range.</p>}
    </div>
  );
}
