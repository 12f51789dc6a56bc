import { useCallback, useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { emergency, problemText, type ActivityRead } from "../../api/emergency";
import { useApp, useChannel, useResync } from "../../app/context";
import { ACTIVITY_SUBJECTS, actorLabel, filterEntries, newestFirst, subjectLabel } from "../../lib/activity";

type Named = { id: string; name: string };

/** Names of the records the manager can pick, by kind (incidents and alerts: by id). */
async function pickable(api: ReturnType<typeof useApp>["api"]): Promise<Record<string, Named[]>> {
  const [resources, shelters, people, items, locations] = await Promise.all([
    emergency.board(api).catch(() => []),
    emergency.shelters(api).catch(() => []),
    emergency.people(api).catch(() => []),
    emergency.items(api).catch(() => []),
    emergency.locations(api).catch(() => []),
  ]);
  return { resource: resources, shelter: shelters, person: people, item: items, location: locations };
}

/** The operational log: who did what, when, per incident, resource, shelter... newest first. */
export function Activity() {
  const { api, me } = useApp();
  const [params, setParams] = useSearchParams();
  const subject = params.get("subject") ?? "shelter";
  const subjectId = params.get("id") ?? "";
  const [since, setSince] = useState("");
  const [text, setText] = useState("");
  const [entries, setEntries] = useState<ActivityRead[] | null>(null);
  const [records, setRecords] = useState<Record<string, Named[]>>({});
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setEntries(await emergency.activity(api, subject, subjectId || null));
      setMessage(null);
    } catch (e) {
      setMessage(problemText(e));
    }
  }, [api, subject, subjectId]);
  useEffect(() => void load(), [load]);
  useEffect(() => void pickable(api).then(setRecords), [api]);
  useResync(() => void load());
  useChannel("emergency", () => void load());

  const names = useMemo(() => new Map(Object.values(records).flat().map((r) => [r.id, r.name])), [records]);
  const choices = records[subject];
  const shown = newestFirst(filterEntries(entries ?? [], since ? new Date(since).toISOString() : "", text));
  const pick = (next: { subject?: string; id?: string }) => {
    const p = new URLSearchParams();
    p.set("subject", next.subject ?? subject);
    const id = next.subject !== undefined ? "" : (next.id ?? subjectId);
    if (id) p.set("id", id);
    setParams(p, { replace: true });
  };

  return (
    <section className="panel" aria-labelledby="activity-title">
      <h2 id="activity-title">Activity log</h2>
      <div className="actions" data-testid="activity-filters">
        <label>
          Kind
          <select aria-label="Kind" value={subject} onChange={(e) => pick({ subject: e.target.value })}>
            {ACTIVITY_SUBJECTS.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        {choices ? (
          <label>
            Record
            <select aria-label="Record" value={subjectId} onChange={(e) => pick({ id: e.target.value })}>
              <option value="">All</option>
              {choices.map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
            </select>
          </label>
        ) : (
          <label>
            Record id
            <input defaultValue={subjectId} key={subject} placeholder="all" onBlur={(e) => pick({ id: e.target.value.trim() })} />
          </label>
        )}
        <label>
          Since
          <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        </label>
        <label>
          Action or detail contains
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
      </div>
      {message && <p role="alert" className="warn">{message}</p>}
      <table className="table" data-testid="activity">
        <thead><tr><th>When</th><th>Who</th><th>What</th><th>Subject</th><th>Detail</th></tr></thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>{actorLabel(e.actor, me, e.actor_name)}</td>
              <td>{e.action.replace(/_/g, " ")}</td>
              <td>{subjectLabel(e, names)}</td>
              <td className="small">{e.detail}</td>
            </tr>
          ))}
          {entries !== null && shown.length === 0 && <tr><td colSpan={5} className="muted">No activity recorded.</td></tr>}
        </tbody>
      </table>
      <p className="muted small">The latest 200 entries of the chosen kind or record.</p>
    </section>
  );
}
