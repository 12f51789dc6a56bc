import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import type { HandoffRead } from "../api/types";
import { sortAlerts } from "../lib/alerts";
import { HandoffCard } from "./HandoffCard";

const NOW = Date.parse("2026-01-01T10:10:00Z");
const at = (minAgo: number) => new Date(NOW - minAgo * 60_000).toISOString();

afterEach(cleanup);

const crewSet = { ts: at(7), hr: 118, spo2: 89, rr: 26, sbp: 104, dbp: 62, temp: 38.6, avpu: "V" as const, o2: true, o2_device: "non_rebreather_mask" as const, o2_flow: 15, source: "crew" as const };
const monitorSet = { ts: at(1), hr: 124, spo2: 86, o2: true, source: "telemetry" as const };

function handoff(): HandoffRead {
  return {
    id: "h1", status: "sent", incident_id: "i1", patient_id: "p1", unit_id: "MEDIC-12", hospital_id: "north",
    acuity: 2, eta: at(-6), key_version: 1, created_by: "crew", created_at: at(10), updated_at: at(1),
    sent_at: at(9), acknowledged_at: null, sealed: true, news2: 14, crew: ["Paramedic Kallio"],
    trends: { hr: "rising", spo2: "falling" },
    content: { patient: { age_years: 81, sex: "male" }, onset_unknown: true, mechanism: "fall", injuries: ["hip pain"], signs: [crewSet],
      treatment: [], notes: "Lives alone. Allergy: penicillin.", allergies: ["penicillin"] },
    picture: {
      signs: [crewSet, monitorSet], latest_signs: monitorSet, injuries: ["hip pain"],
      treatment: [
        { kind: "medication", name: "oxygen", route: "inhaled", at: at(9), dose_value: 15, dose_unit: "L/min", response: "SpO2 84 to 89 %" },
        { kind: "medication", name: "paracetamol", dose_value: 1, dose_unit: "g", route: "IV" },
      ],
      allergies: ["penicillin"], notes: [{ text: "Lives alone. Allergy: penicillin." }, { text: "Daughter on her way", at: at(2) }],
      news2: { total: 14, band: "high", subscores: {}, assumed: [], ts: crewSet.ts, source: "crew" },
    },
  };
}

it("shows the newest set first with its age and trend, and everything the crew recorded", () => {
  render(<ul><HandoffCard handoff={handoff()} now={NOW} /></ul>);
  const current = screen.getByTestId("current-vitals");
  expect(current.textContent).toContain("1 min ago · monitor");
  expect(current.textContent).toContain("86 % ↓ from 89");
  expect(current.textContent).toContain("124/min ↑ from 118");
  expect(screen.getByTestId("handoff-news2").textContent).toContain("NEWS2 14 — High risk");
  expect(screen.getByTestId("allergies").textContent).toBe("Allergies: penicillin");
  const treatments = screen.getByTestId("treatments").textContent;
  expect(treatments).toContain("paracetamol 1 g, IV, time not recorded");
  expect(treatments).toContain("response: SpO2 84 to 89 %");
  expect(screen.getByTestId("notes").textContent).toContain("Lives alone. Allergy: penicillin.");
  expect(screen.getByTestId("notes").textContent).toContain("Daughter on her way");
  // The older crew set with AVPU and oxygen is one click away, all of it.
  const all = screen.getByText("All vital sets (2)").parentElement?.textContent ?? "";
  expect(all).toContain("AVPU V (responds to voice)");
  expect(all).toContain("Oxygen on O₂ 15 L/min, non-rebreather mask");
});

it("puts allergy conflicts first, in words", () => {
  const conflicts = [
    { medication: "Amoxicillin", allergy: "Penicillin (rash)", source: "handoff" as const, match: "class" as const, drug_class: "penicillins", severity: null, allergy_id: null },
    { medication: "morphine IV", allergy: "Morphine", source: "record" as const, match: "substance" as const, drug_class: null, severity: "severe", allergy_id: "e1" },
  ];
  render(<ul><HandoffCard handoff={handoff()} now={NOW} conflicts={conflicts} /></ul>);
  const box = screen.getByTestId("allergy-conflicts");
  expect(box.getAttribute("role")).toBe("alert");
  expect(box.textContent).toContain("Amoxicillin given — allergy written by the crew: Penicillin (rash); same drug class: penicillins");
  expect(box.textContent).toContain("morphine IV given — allergy on the patient's record: Morphine (severe); same substance");
});

it("shows no conflict box when there is none", () => {
  render(<ul><HandoffCard handoff={handoff()} now={NOW} conflicts={[]} /></ul>);
  expect(screen.queryByTestId("allergy-conflicts")).toBeNull();
});

it("sorts alerts by severity, then newest first", () => {
  const base = { patient_id: "p", kind: "news2", scope: "", status: "raised", updated_at: at(0), acknowledged_at: null,
    acknowledged_by: null, resolved_at: null, resolved_by: null, escalation_step: 0, escalated_to: null };
  const alerts = [
    { ...base, id: "a", level: "low-medium", raised_at: at(1) },
    { ...base, id: "b", level: "high", raised_at: at(5) },
    { ...base, id: "c", level: "medium", raised_at: at(2) },
    { ...base, id: "d", level: "high", raised_at: at(3) },
  ];
  expect(sortAlerts(alerts).map((a) => a.id)).toEqual(["d", "b", "c", "a"]);
});
