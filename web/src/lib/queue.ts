import type { IncidentSummary } from "../api/types";

/** Most urgent first (priority 1 = KTAS 1), then the longest waiting. */
export function byAcuityThenWaiting(a: Pick<IncidentSummary, "priority" | "created_at">, b: Pick<IncidentSummary, "priority" | "created_at">): number {
  return a.priority - b.priority || Date.parse(a.created_at) - Date.parse(b.created_at);
}

export const OPEN_STATUSES = ["new", "triaged", "dispatched", "on_scene", "transporting", "at_hospital"] as const;
