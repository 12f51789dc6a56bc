import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api/client";
import type { NotificationRead, OnCallRead, PageRead } from "../api/types";
import { useApp, useChannel, useResync } from "../app/context";
import { useSubmit } from "../app/useSubmit";

const TRIGGERS: Record<string, string> = {
  "telemetry.alert.news2": "NEWS2 deterioration",
  "telemetry.alert.stale": "Monitor silent",
  "handoffs.ack_overdue": "Handoff not acknowledged",
};

function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** Who is on call now, and every page with each notification and attempt (the log). */
export function Paging() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [oncall, setOncall] = useState<OnCallRead[] | null>(null);
  const [pages, setPages] = useState<PageRead[] | null>(null);
  const [status, setStatus] = useState<string>("");
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const query = status ? `?status=${status}` : "";
    const [o, p] = await Promise.all([
      api.get<OnCallRead[]>("/api/notifications/oncall").catch(() => null),
      api.get<PageRead[]>(`/api/notifications/pages${query}`).catch(() => null),
    ]);
    setOncall(o);
    setPages(p);
  }, [api, status]);
  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load(), ["paging"]);
  useChannel("paging", () => void load());

  async function acknowledge(id: string) {
    await run(async (api) => {
      setMessage(null);
      try {
        await api.post(`/api/notifications/pages/${id}/ack`);
        void load();
      } catch (e) {
        setMessage(e instanceof ApiError ? e.message : "Acknowledgement failed");
      }
    });
  }

  return (
    <div className="paging">
      <section className="panel" aria-labelledby="oncall-title">
        <h2 id="oncall-title">On call now</h2>
        {oncall === null ? (
          <p className="muted">On-call schedules could not be loaded.</p>
        ) : oncall.length === 0 ? (
          <p className="muted">No schedules yet: create one under On-call schedules.</p>
        ) : (
          <table className="table" data-testid="oncall">
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Schedule</th>
                <th scope="col">On call</th>
                <th scope="col">Until</th>
                <th scope="col">Next</th>
              </tr>
            </thead>
            <tbody>
              {oncall.map((o) => (
                <tr key={o.schedule_id}>
                  <td>{o.team_name}</td>
                  <td>{o.schedule_name}</td>
                  <td>
                    <strong>{o.on_call?.username ?? "nobody"}</strong>
                    {o.on_call?.override ? <span className="status"> override</span> : null}
                  </td>
                  <td>{when(o.next_handover)}</td>
                  <td>{o.next?.username ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="panel" aria-labelledby="pages-title">
        <h2 id="pages-title">Pages</h2>
        <label>
          Show
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">all</option>
            <option value="open">open (escalating)</option>
            <option value="acknowledged">acknowledged</option>
            <option value="exhausted">unanswered (all steps fired)</option>
            <option value="resolved">resolved</option>
          </select>
        </label>
        {message && (
          <p role="alert" className="error">
            {message}
          </p>
        )}
        {pages === null ? (
          <p className="muted">Pages could not be loaded.</p>
        ) : pages.length === 0 ? (
          <p className="muted">No pages.</p>
        ) : (
          <ul className="list" data-testid="pages">
            {pages.map((p) => (
              <li key={p.id} className={`card page page-${p.status}`}>
                <div className="tile-head">
                  <strong>{TRIGGERS[p.trigger] ?? p.trigger}</strong>
                  <span className={`status page-status-${p.status}`}>{p.status}</span>
                </div>
                <p className="small">
                  {p.subject_kind} {p.subject_id.slice(0, 8)} · policy “{p.policy_name}” · step {p.steps_done} of{" "}
                  {p.steps_total}
                  {p.occurrences > 1 ? ` · ${p.occurrences} occurrences grouped` : ""} · opened {when(p.opened_at)}
                  {p.next_step_at ? ` · next step ${when(p.next_step_at)}` : ""}
                </p>
                {p.acknowledged_at && (
                  <p className="small">
                    Acknowledged {when(p.acknowledged_at)} by {p.acknowledged_by_name ?? p.acknowledged_by} via{" "}
                    {p.acknowledged_via === "sms_reply" ? "SMS reply" : p.acknowledged_via}
                  </p>
                )}
                {(p.status === "open" || p.status === "exhausted") && can("notify:self") && (
                  <button disabled={busy} type="button" className="primary" onClick={() => void acknowledge(p.id)}>
                    Acknowledge
                  </button>
                )}
                <NotificationLog items={p.notifications ?? []} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

export function NotificationLog({ items }: { items: NotificationRead[] }) {
  if (items.length === 0) return <p className="muted small">No notifications yet.</p>;
  return (
    <details>
      <summary>
        {items.length} notification{items.length === 1 ? "" : "s"}
      </summary>
      <table className="table small">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">To</th>
            <th scope="col">Channel</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
          </tr>
        </thead>
        <tbody>
          {items.map((n) => (
            <tr key={n.id}>
              <td>{n.step ?? "—"}</td>
              <td>
                {n.username ?? "—"} <span className="muted">{n.destination ?? ""}</span>
              </td>
              <td>{n.channel}</td>
              <td>
                {n.status}
                {n.status_reason ? <span className="muted"> ({n.status_reason})</span> : null}
              </td>
              <td>
                <ol className="attempts">
                  {n.attempt_log.map((a) => (
                    <li key={`${a.number}-${a.at}-${a.outcome}`}>
                      {new Date(a.at).toLocaleTimeString()} {a.outcome}
                      {a.duration_ms != null ? ` ${a.duration_ms} ms` : ""}
                      {a.detail ? ` — ${a.detail}` : ""}
                    </li>
                  ))}
                </ol>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
