/* Pure helpers for the emergency activity log (who did what, when, to which record). */

/** The record kinds the log keeps (emergency/activity.py SUBJECTS). */
export const ACTIVITY_SUBJECTS = ["incident", "resource", "shelter", "item", "location", "alert", "person", "request"] as const;
export type ActivitySubject = (typeof ACTIVITY_SUBJECTS)[number];

export interface ActivityEntry {
  id: number;
  at: string;
  actor: string;
  subject_kind: string;
  subject_id: string;
  action: string;
  detail: string;
}

/** Newest first (by time, then by id for entries in the same instant), without mutating. */
export function newestFirst<T extends Pick<ActivityEntry, "at" | "id">>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id);
}

/** Entries at or after `since` (ISO or "" for all) whose action or detail contains `text`. */
export function filterEntries<T extends ActivityEntry>(entries: readonly T[], since: string, text: string): T[] {
  const from = since ? Date.parse(since) : Number.NaN;
  const needle = text.trim().toLowerCase();
  return entries.filter(
    (e) =>
      (Number.isNaN(from) || Date.parse(e.at) >= from) &&
      (!needle || `${e.action} ${e.detail}`.toLowerCase().includes(needle)),
  );
}

/** The subject as a person reads it: its name when known, else a shortened id. */
export function subjectLabel(entry: Pick<ActivityEntry, "subject_kind" | "subject_id">, names: ReadonlyMap<string, string>): string {
  const name = names.get(entry.subject_id);
  return `${entry.subject_kind}: ${name ?? entry.subject_id.slice(0, 8)}`;
}

/** Who, as a person reads it: the signed-in user as "(you)"; others by the name the server
 *  resolved (username or API key name); a system actor ("system:…") as its audit name. */
export function actorLabel(actor: string, me: { kind: string; id: string; name: string } | null, name?: string | null): string {
  if (me && actor === `${me.kind}:${me.id}`) return `${me.name} (you)`;
  return name ?? actor;
}
