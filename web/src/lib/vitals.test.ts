import { expect, it } from "vitest";
import { EMPTY_VITALS, currentReading, fromLatest, merge } from "./vitals";

const T0 = Date.parse("2026-01-01T12:00:00Z");
const iso = (ms: number) => new Date(T0 + ms).toISOString();

it("a pushed reading (the history's schema) carries its score and band as they are", () => {
  const s = merge(EMPTY_VITALS, { ts: iso(0), hr: 130, news2: 7, band: "high", pews: null });
  expect(currentReading(s, T0, 60_000)).toMatchObject({ hr: 130, news2: 7, band: "high" });
});

it("keeps each parameter's own time and drops the ones gone stale", () => {
  let s = merge(EMPTY_VITALS, { ts: iso(0), hr: 80, spo2: 97 });
  s = merge(s, { ts: iso(90_000), hr: 95 }); // SpO2 not measured again
  const r = currentReading(s, T0 + 100_000, 60_000);
  expect(r?.hr).toBe(95);
  expect(r?.spo2).toBeUndefined();
  expect(r?.ts).toBe(iso(90_000));
});

it("an older reading arriving late does not replace a newer value", () => {
  let s = merge(EMPTY_VITALS, { ts: iso(10_000), hr: 100 });
  s = merge(s, { ts: iso(0), hr: 60 });
  expect(currentReading(s, T0 + 10_000, 60_000)?.hr).toBe(100);
});

it("a reload keeps a flagged value marked, as the push had it (the latest view's artefact)", () => {
  const s = fromLatest({
    patient_id: "p1",
    values: {
      hr: { value: 0, ts: iso(0), artefact: "lead_off" },
      spo2: { value: 97, ts: iso(0), artefact: null },
    },
    news2: { total: 0, band: "none", subscores: [0, 0, 0, 0, 0, 0, 0], assumed: [], ts: iso(0) },
  });
  const r = currentReading(s, T0, 60_000);
  expect(r?.hr).toBe(0);
  expect(r?.artefacts).toEqual([{ field: "hr", kind: "lead_off" }]);
  expect(r?.news2).toBe(0);
});
