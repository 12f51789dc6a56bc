/* NEWS2 clinical-risk bands (Royal College of Physicians, 2017). The score itself is computed
 * by the server; this only names the band so the UI never relies on colour alone. */

export type News2Band = "low" | "low-medium" | "medium" | "high";

export const BAND_LABEL: Record<News2Band, string> = {
  low: "Low risk",
  "low-medium": "Low–medium risk",
  medium: "Medium risk",
  high: "High risk",
};

/** The band of an aggregate score; `redFlag` is a single parameter scoring 3. */
export function news2Band(score: number, redFlag = false): News2Band {
  if (score >= 7) return "high";
  if (score >= 5) return "medium";
  if (redFlag) return "low-medium";
  return "low";
}

export function parseBand(value: string | null | undefined): News2Band | null {
  if (!value) return null;
  const v = value.toLowerCase().replace(/[_\s]+/g, "-");
  if (v === "low" || v === "low-medium" || v === "medium" || v === "high") return v;
  if (v === "low-medium-risk" || v === "lowmedium") return "low-medium";
  return null;
}
