import type { AlertRead } from "../api/types";

/** Severity first, as the server sorts (telemetry list_alerts): most severe, then newest. */
const LEVEL_RANK: Record<string, number> = { high: 4, medium: 3, "low-medium": 2, stale: 2, low: 1 };

export function sortAlerts<T extends Pick<AlertRead, "level" | "raised_at">>(alerts: T[]): T[] {
  return [...alerts].sort(
    (a, b) => (LEVEL_RANK[b.level] ?? 0) - (LEVEL_RANK[a.level] ?? 0) || Date.parse(b.raised_at) - Date.parse(a.raised_at),
  );
}
