/** How long ago, in words a person reads at a glance ("2 min", "45 s", "3 h"). */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** "4:05" for a countdown; negative means overdue. */
export function countdown(ms: number): string {
  const sign = ms < 0 ? "−" : "";
  const s = Math.floor(Math.abs(ms) / 1000);
  return `${sign}${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function etaText(seconds: number): string {
  const m = Math.round(seconds / 60);
  return m < 1 ? "< 1 min" : `${m} min`;
}
