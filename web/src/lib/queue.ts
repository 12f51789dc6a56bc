import type { IncidentSummary } from "../api/types";

/** Most urgent first (priority 1 = KTAS 1), then the longest waiting. */
export function byAcuityThenWaiting(a: IncidentSummary, b: IncidentSummary): number {
  return a.priority - b.priority || Date.parse(a.created_at) - Date.parse(b.created_at);
}

export const OPEN_STATUSES = ["new", "triaged", "dispatched", "on_scene", "transporting", "at_hospital"] as const;
