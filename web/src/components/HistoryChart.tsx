import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { SERIES, clockLabels, framed, valueRange, type ChartRow } from "../lib/chartAxes";

const STRIP_HEIGHT = 120;

/** Vitals history over `range` (epoch ms: the window asked for; the time axis spans it);
 * drag across a strip to zoom all of them, double-click to reset. */
export function HistoryChart({ readings, range = null }: { readings: ChartRow[]; range?: { start: number; end: number } | null }) {
  const host = useRef<HTMLDivElement>(null);
  const start = range?.start;
  const end = range?.end;
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const span = start !== undefined && end !== undefined ? { start: start / 1000, end: end / 1000 } : null;
    // Scores come at their own times: each kind of row on its own time points, so a score
    // never opens a gap in a vital's line, nor a reading in the risk line.
    const scored = readings.filter((r) => typeof r.risk === "number");
    const measured = readings.filter((r) => typeof r.risk !== "number");
    const frameOf = (rows: ChartRow[], key: keyof ChartRow) =>
      framed(
        rows.map((r) => Date.parse(r.ts) / 1000),
        [rows.map((r) => (typeof r[key] === "number" ? r[key] : null))],
        span,
      );
    const sync = uPlot.sync(`vitals-${Math.random().toString(36).slice(2)}`);
    const width = () => Math.max(320, el.clientWidth);
    const plots = SERIES.map((s, i) => {
      const strip = document.createElement("div");
      strip.setAttribute("data-testid", `history-${s.key}`);
      el.appendChild(strip);
      const risk = s.key === "risk";
      const frame = frameOf(risk ? scored : measured, s.key);
      const values = frame.columns[0] ?? [];
      const last = i === SERIES.length - 1;
      return new uPlot(
        {
          width: width(),
          height: STRIP_HEIGHT + (last ? 30 : 0),
          cursor: { drag: { x: true, y: false }, sync: { key: sync.key } },
          legend: { show: false },
          scales: { x: { time: true }, y: { range: (_u, min, max) => valueRange(min, max, s.span) } },
          // The same padding on every strip, so their time axes line up.
          padding: [6, 28, 0, 0],
          series: [{}, { label: `${s.label} ${s.unit}`, stroke: s.stroke, width: 1.5, spanGaps: false, ...(risk ? { points: { show: true } } : {}) }],
          axes: [
            // Time labels only under the last strip, at least 90 px apart: they never collide.
            { show: last, space: 90, values: (_u, ticks) => clockLabels(ticks) },
            {
              label: `${s.label} ${s.unit}`,
              labelSize: 16,
              size: 64,
              stroke: s.stroke,
              values: (_u, ticks) => ticks.map((t) => t.toFixed(s.digits)),
            },
          ],
        },
        [frame.xs, values],
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
  }, [readings, start, end]);
  return (
    <div>
      <div ref={host} className="chart" role="img" aria-label="Vitals history: one strip per vital sign, each with its own axis, and the deterioration risk in percent" />
      {readings.length === 0 && <p className="muted">No readings in this range.</p>}
    </div>
  );
}
