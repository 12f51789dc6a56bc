import { expect, it } from "vitest";
import { allergiesText, assessmentLines, avpuText, changeText, oxygenText, signFields, treatmentText } from "./handoff";

const TS = "2026-01-01T10:02:00Z";

it("says how oxygen is given, and room air as room air", () => {
  expect(oxygenText({ o2: true, o2_device: "non_rebreather_mask", o2_flow: 15 })).toBe(
    "on O₂ 15 L/min, non-rebreather mask",
  );
  expect(oxygenText({ o2: true })).toBe("on O₂");
  expect(oxygenText({ o2: false })).toBe("room air");
  expect(oxygenText({})).toBeNull();
});

it("names AVPU in words", () => {
  expect(avpuText("V")).toBe("V (responds to voice)");
  expect(avpuText(null)).toBeNull();
});

it("lists every recorded value of a set and nothing that was not recorded", () => {
  const fields = signFields({ ts: TS, hr: 118, spo2: 89, o2: true, o2_flow: 15, avpu: "V", source: "crew" });
  expect(fields).toEqual([
    ["HR", "118/min"],
    ["SpO₂", "89 %"],
    ["AVPU", "V (responds to voice)"],
    ["Oxygen", "on O₂ 15 L/min"],
  ]);
});

it("says beside a value the monitor flagged that it is a probable artefact", () => {
  const fields = signFields({
    ts: TS,
    hr: 0,
    spo2: 97,
    sbp: 88,
    dbp: 84,
    source: "telemetry",
    artefacts: [
      { field: "hr", kind: "lead_off" },
      { field: "sbp", kind: "damped_line" },
      { field: "dbp", kind: "damped_line" },
    ],
  });
  expect(fields).toEqual([
    ["HR", "0/min (probable artefact: lead off)"],
    ["SpO₂", "97 %"],
    ["BP", "88/84 mmHg (probable artefact: damped line)"],
  ]);
});

it("gives a treatment its dose, route, time and response, and says when it has no time", () => {
  const timed = treatmentText({ kind: "medication", name: "paracetamol", dose_value: 1, dose_unit: "g", route: "IV", at: TS, response: "no change" });
  expect(timed).toMatch(/^paracetamol 1 g, IV, at \d\d:\d\d — response: no change$/);
  expect(treatmentText({ kind: "procedure", name: "IV access" })).toBe("IV access, time not recorded");
});

it("tells 'no known allergies' from 'not asked'", () => {
  expect(allergiesText(null)).toBe("Not recorded");
  expect(allergiesText([])).toBe("None known");
  expect(allergiesText(["penicillin", "latex"])).toBe("penicillin; latex");
});

it("says beside a current value where it came from", () => {
  const older = { ts: "2026-01-01T10:00:00Z", spo2: 89, sbp: 104, dbp: 62, hr: 118, source: "crew" as const };
  const newest = { ts: "2026-01-01T10:06:00Z", spo2: 86, sbp: 104, dbp: 60, source: "telemetry" as const };
  const signs = [older, newest];
  expect(changeText("SpO₂", signs, newest)).toBe("↓ from 89");
  expect(changeText("BP", signs, newest)).toBe("→ unchanged");
  expect(changeText("HR", signs, newest)).toBeNull(); // not measured now
  expect(changeText("SpO₂", [newest], newest)).toBeNull(); // nothing earlier
});

it("says the incident's findings in words, and nothing when none were recorded", () => {
  expect(
    assessmentLines({ befast: ["face", "speech"], ecg: "stemi", gcs_motor: 5, injury_mechanism: "fall", conditions: [] }),
  ).toEqual([
    "BE-FAST positive: F face droops, S speech slurred",
    "12-lead ECG: STEMI",
    "GCS motor: 5",
    "Mechanism of injury: fall",
    "Condition set by hand: none",
  ]);
  expect(assessmentLines({ befast: [], conditions: null })).toEqual([]);
  expect(assessmentLines(null)).toEqual([]);
});
