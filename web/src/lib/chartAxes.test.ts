import { describe, expect, it } from "vitest";
import { SERIES, clockLabels, framed, inTimeOrder, valueRange, withRisk } from "./chartAxes";

describe("history chart axes", () => {
  it("never repeats a time label: seconds appear when ticks are under a minute apart", () => {
    const t0 = Date.parse("2026-01-01T10:00:00Z") / 1000;
    const close = clockLabels([t0, t0 + 10, t0 + 20, t0 + 30]);
    expect(new Set(close).size).toBe(4);
    const apart = clockLabels([t0, t0 + 300, t0 + 600]);
    expect(new Set(apart).size).toBe(3);
    expect(apart[0]).not.toMatch(/:\d\d:\d\d/);
  });

  it("gives each vital its own axis around its values, wide enough to read a steady one", () => {
    const temp = SERIES.find((s) => s.key === "temp");
    expect(temp?.unit).toBe("°C");
    const [low, high] = valueRange(37, 37, temp?.span ?? 1);
    expect(low).toBeLessThan(37);
    expect(high).toBeGreaterThan(37);
    expect(high - low).toBeLessThan(3); // not a 0–50 axis for a temperature of 37
    const [hrLow, hrHigh] = valueRange(60, 140, 20);
    expect(hrLow).toBeLessThan(60);
    expect(hrHigh).toBeGreaterThan(140);
  });
});

describe("the time axis follows the chosen range", () => {
  const end = Date.parse("2026-01-01T10:15:00Z") / 1000;
  const start = end - 15 * 60;

  it("spans the whole window when the readings cover two seconds of it", () => {
    const out = framed([end - 2, end - 1], [[80, 81]], { start, end });
    expect(out.xs[0]).toBe(start);
    expect(out.xs[out.xs.length - 1]).toBe(end);
    expect(out.columns[0]).toEqual([null, 80, 81, null]);
    // Ticks across 15 minutes are minutes apart: labels without seconds.
    expect(clockLabels([start, start + 300, start + 600])[0]).not.toMatch(/:\d\d:\d\d/);
  });

  it("adds nothing where the readings already reach an edge, and frames an empty range", () => {
    expect(framed([start, end], [[1, 2]], { start, end })).toEqual({ xs: [start, end], columns: [[1, 2]] });
    expect(framed([], [[]], { start, end })).toEqual({ xs: [start, end], columns: [[null, null]] });
    expect(framed([start + 5], [[3]], null)).toEqual({ xs: [start + 5], columns: [[3]] });
  });
});

describe("the deterioration risk on the history chart", () => {
  it("puts stored scores among the readings by time, in percent", () => {
    const rows = withRisk(
      [
        { ts: "2026-01-01T10:00:00Z", hr: 80 },
        { ts: "2026-01-01T10:02:00Z", hr: 82 },
      ],
      [{ ts: "2026-01-01T10:01:00Z", probability: 0.273 }],
    );
    expect(rows.map((r) => r.ts)).toEqual(["2026-01-01T10:00:00Z", "2026-01-01T10:01:00Z", "2026-01-01T10:02:00Z"]);
    expect(rows[1]?.risk).toBe(27.3);
    expect(SERIES.at(-1)?.key).toBe("risk");
  });

  it("puts a late reading in its place by time, and appends in-order ones as they come", () => {
    const at = (m: number) => `2026-01-01T10:${String(m).padStart(2, "0")}:00Z`;
    const shown = [{ ts: at(0), hr: 70 }, { ts: at(1), hr: 71 }, { ts: at(5), hr: 75 }];
    // Readings a device queued while offline arrive after its newer one (minute 5).
    const late = inTimeOrder(shown, [{ ts: at(2), hr: 72 }, { ts: at(3), hr: 73 }]);
    expect(late.map((r) => r.hr)).toEqual([70, 71, 72, 73, 75]);
    const next = inTimeOrder(late, [{ ts: at(6), hr: 76 }]);
    expect(next.map((r) => r.hr)).toEqual([70, 71, 72, 73, 75, 76]);
    expect(inTimeOrder(next, [])).toBe(next);
    // Equal times keep arrival order: nothing is dropped or merged.
    const same = inTimeOrder([{ ts: at(6), hr: 1 }], [{ ts: at(6), hr: 2 }, { ts: at(4), hr: 0 }]);
    expect(same.map((r) => r.hr)).toEqual([0, 1, 2]);
  });
});
