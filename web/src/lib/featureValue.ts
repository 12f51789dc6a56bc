/* A triage explanation's feature value as the form said it (#23 item 6: the list showed the
 * feature's name only, e.g. "heart rate", not the 128/min the model read). */

const AVPU_WORDS = ["", "alert", "responds to voice", "responds to pain", "unresponsive"];
const UNIT: Record<string, string> = {
  sbp: " mmHg",
  dbp: " mmHg",
  pulse_pressure: " mmHg",
  hr: "/min",
  rr: "/min",
  bt: " °C",
  spo2: "%",
  age: " y",
  nrs_pain: "/10",
};

/** "128/min", "37.9 °C", "responds to voice" (KTAS codes mental state 1–4 as AVPU). */
export function featureValue(feature: string, value: number): string {
  if (feature === "mental") return AVPU_WORDS[Math.round(value)] ?? String(value);
  if (feature === "shock_index") return value.toFixed(2);
  const digits = feature === "bt" ? 1 : 0;
  return `${value.toFixed(digits)}${UNIT[feature] ?? ""}`;
}
