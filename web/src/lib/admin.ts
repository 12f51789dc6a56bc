/* Pure helpers of the admin pages: import progress, the audit query, the chain verdict. */

export interface ImportProgress {
  state?: string;
  step?: number;
  steps: number;
}

/** 0–100: steps done of steps (100 once done, whatever the counts say). */
export function importPercent(job: ImportProgress): number {
  if (job.state === "done") return 100;
  if (job.steps <= 0) return 0;
  return Math.max(0, Math.min(100, Math.round((100 * (job.step ?? 0)) / job.steps)));
}

export interface AuditFilters {
  action: string;
  since: string; // ISO, or "" for all
  failures: boolean;
}

/** The /api/audit query: newest first, before `before` (a seq) when paging back. */
export function auditQuery(filters: AuditFilters, before: number | null, limit: number): string {
  const p = new URLSearchParams({ order: "desc", limit: String(limit) });
  if (before !== null) p.set("after_seq", String(before));
  if (filters.action.trim()) p.set("action", filters.action.trim());
  if (filters.since) p.set("since", filters.since);
  if (filters.failures) p.set("failures", "true");
  return p.toString();
}

export interface ChainReport {
  ok: boolean;
  entries: number;
  head_hash: string;
  first_broken_seq?: number | null;
  problem?: string | null;
}

/** What the verification found, in a sentence. */
export function chainVerdict(r: ChainReport): { ok: boolean; text: string } {
  if (r.ok) return { ok: true, text: `Chain intact: ${r.entries} entries verified, head ${r.head_hash.slice(0, 12)}…` };
  const where = r.first_broken_seq != null ? ` at entry #${r.first_broken_seq}` : "";
  return { ok: false, text: `Chain broken${where}: ${r.problem ?? "the hashes do not match"}` };
}
