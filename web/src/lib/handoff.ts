/* What the crew recorded, in the words the ED reads: every field of a vital-sign set, each
 * treatment with dose, route, time and response, allergies, notes. Pure (tested in
 * handoff.test.ts); the card (components/HandoffCard.tsx) only lays these out. */
import type { Assessment, Treatment, VitalSigns } from "../api/types";
import { ARTEFACT_LABEL } from "./vitals";

export const O2_DEVICE_LABEL: Record<string, string> = {
  nasal_cannula: "nasal cannula",
  simple_face_mask: "simple face mask",
  venturi_mask: "Venturi mask",
  non_rebreather_mask: "non-rebreather mask",
  high_flow_nasal_cannula: "high-flow nasal cannula",
  cpap_niv: "CPAP / NIV",
  bag_valve_mask: "bag-valve-mask",
  ventilator: "ventilator",
  other: "other device",
};

export const AVPU_LABEL: Record<string, string> = {
  A: "alert",
  C: "new confusion",
  V: "responds to voice",
  P: "responds to pain",
  U: "unresponsive",
};

const TREND_KEYS = { HR: "hr", "SpO₂": "spo2", RR: "rr", BP: "sbp", Temp: "temp" } as const;

/** Beside a current value, where it came from: the same parameter in the newest earlier set
 * that has it ("↓ from 89"), in words and an arrow, never colour alone. Null when there is
 * no earlier value. */
export function changeText(label: string, signs: VitalSigns[], latest: VitalSigns): string | null {
  const key = TREND_KEYS[label as keyof typeof TREND_KEYS] as keyof VitalSigns | undefined;
  if (!key) return null;
  const now = latest[key];
  if (typeof now !== "number") return null;
  const earlier = signs.filter((s) => Date.parse(s.ts) < Date.parse(latest.ts) && typeof s[key] === "number");
  const before = earlier.length ? (earlier[earlier.length - 1]?.[key] as number) : null;
  if (before === null) return null;
  const shown = key === "sbp" ? `${before}/${earlier[earlier.length - 1]?.dbp ?? "?"}` : String(before);
  if (now > before) return `↑ from ${shown}`;
  if (now < before) return `↓ from ${shown}`;
  return "→ unchanged";
}

export function clock(iso: string): string {
  // 24-hour time: a clinical record has no AM/PM to misread.
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** "on O₂ 15 L/min, non-rebreather mask", "room air", or null when not recorded. */
export function oxygenText(s: Pick<VitalSigns, "o2" | "o2_device" | "o2_flow">): string | null {
  if (s.o2 === false) return "room air";
  if (!s.o2 && !s.o2_device && s.o2_flow == null) return null;
  const flow = s.o2_flow != null ? ` ${s.o2_flow} L/min` : "";
  const device = s.o2_device ? `, ${O2_DEVICE_LABEL[s.o2_device] ?? s.o2_device}` : "";
  return `on O₂${flow}${device}`;
}

export function avpuText(avpu: string | null | undefined): string | null {
  return avpu ? `${avpu} (${AVPU_LABEL[avpu] ?? avpu})` : null;
}

/** " (probable artefact: lead off)" after a value the monitor's rules flagged, in words: a lead
 * off's 0 must never read as a heart rate. "" when none of `fields` is flagged. */
export function artefactText(s: Pick<VitalSigns, "artefacts">, ...fields: string[]): string {
  const kinds = [...new Set((s.artefacts ?? []).filter((a) => fields.includes(a.field)).map((a) => ARTEFACT_LABEL[a.kind] ?? a.kind))];
  return kinds.length ? ` (probable artefact: ${kinds.join(", ")})` : "";
}

/** Each recorded value of a set as [label, value] (the table of all sets and the current set). */
export function signFields(s: VitalSigns): [string, string][] {
  const out: [string, string | null][] = [
    ["HR", s.hr != null ? `${s.hr}/min${artefactText(s, "hr")}` : null],
    ["SpO₂", s.spo2 != null ? `${s.spo2} %${artefactText(s, "spo2")}` : null],
    ["RR", s.rr != null ? `${s.rr}/min${artefactText(s, "rr")}` : null],
    ["BP", s.sbp != null ? `${s.sbp}/${s.dbp ?? "?"} mmHg${artefactText(s, "sbp", "dbp")}` : null],
    ["Temp", s.temp != null ? `${s.temp} °C${artefactText(s, "temp")}` : null],
    ["AVPU", avpuText(s.avpu)],
    ["Oxygen", oxygenText(s)],
  ];
  return out.filter((f): f is [string, string] => f[1] !== null);
}

export function sourceText(s: Pick<VitalSigns, "source">): string {
  return s.source === "telemetry" ? "monitor" : "crew";
}

/** "paracetamol 1 g, IV, at 10:02 — response: no change yet"; an untimed one says so. */
export function treatmentText(t: Treatment): string {
  const dose = t.dose_value != null ? ` ${t.dose_value} ${t.dose_unit ?? ""}`.trimEnd() : "";
  const route = t.route ? `, ${t.route}` : "";
  const when = t.at ? `, at ${clock(t.at)}` : ", time not recorded";
  const response = t.response ? ` — response: ${t.response}` : "";
  return `${t.name}${dose}${route}${when}${response}`;
}

export function allergiesText(allergies: string[] | null | undefined): string {
  if (allergies == null) return "Not recorded";
  if (allergies.length === 0) return "None known";
  return allergies.join("; ");
}

const BEFAST_LABEL: Record<string, string> = {
  balance: "B balance lost",
  eyes: "E vision lost",
  face: "F face droops",
  arm: "A arm weak",
  speech: "S speech slurred",
};
const ECG_LABEL: Record<string, string> = {
  stemi: "STEMI",
  stemi_equivalent: "STEMI equivalent (new LBBB, posterior)",
  non_diagnostic: "not diagnostic",
  normal: "normal",
};
const CONDITION_LABEL: Record<string, string> = {
  stroke: "stroke",
  stemi: "STEMI",
  major_trauma: "major trauma",
  trauma: "trauma",
  burns: "burns",
};

/** The incident's findings the destination was chosen for, one line each (BE-FAST, ECG, GCS
 * motor, mechanism of injury, the condition set by hand); [] when none were recorded. */
export function assessmentLines(a: Assessment | null | undefined): string[] {
  if (!a) return [];
  const out: string[] = [];
  if (a.befast?.length) out.push(`BE-FAST positive: ${a.befast.map((s) => BEFAST_LABEL[s] ?? s).join(", ")}`);
  if (a.ecg) out.push(`12-lead ECG: ${ECG_LABEL[a.ecg] ?? a.ecg}`);
  if (a.gcs_motor != null) out.push(`GCS motor: ${a.gcs_motor}`);
  if (a.injury_mechanism) out.push(`Mechanism of injury: ${a.injury_mechanism}`);
  if (a.conditions != null)
    out.push(`Condition set by hand: ${a.conditions.map((c) => CONDITION_LABEL[c] ?? c).join(", ") || "none"}`);
  return out;
}
