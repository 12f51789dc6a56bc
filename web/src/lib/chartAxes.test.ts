import { describe, expect, it } from "vitest";
import { SERIES, clockLabels, valueRange } from "./chartAxes";

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
