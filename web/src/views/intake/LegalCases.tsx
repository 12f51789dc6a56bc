import type { ApiClient } from "../../api/client";
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { problemText, text } from "../../api/emergency";
import { legalCases, type LegalCaseRead, type LegalCaseUpdate } from "../../api/intakeRecords";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

const TASK_LABEL: Record<string, string> = {
  to_do: "Tell the police",
  awaiting_consent: "Waiting for consent",
  best_interests_review: "Best-interests review",
  not_required: "Not required",
  done: "Police told",
};

/** Reportable cases the legal agent opened: the open ones, then one case worked in detail. */
export function LegalCases() {
  const { caseId } = useParams();
  const { api } = useApp();
  const [cases, setCases] = useState<LegalCaseRead[] | null>(null);
  const load = useCallback(async () => setCases(await legalCases.list(api).catch(() => [])), [api]);
  useEffect(() => void load(), [load]);
  if (caseId) return <LegalCase caseId={caseId} />;
  return (
    <section className="panel" aria-labelledby="legal-title">
      <h2 id="legal-title">Legal cases</h2>
      <table className="table" data-testid="legal-cases">
        <thead>
          <tr><th>Opened</th><th>Categories</th><th>Jurisdiction</th><th>Police</th><th>Due</th><th>Status</th></tr>
        </thead>
        <tbody>
          {(cases ?? []).map((c) => (
            <tr key={c.id}>
              <td><Link to={`/legal-cases/${c.id}`}>{new Date(c.created_at).toLocaleString()}</Link></td>
              <td>{c.categories.join(", ").replace(/_/g, " ")}</td>
              <td>{c.jurisdiction}</td>
              <td>{TASK_LABEL[c.police_task] ?? c.police_task}</td>
              <td>{c.police_due_at ? new Date(c.police_due_at).toLocaleTimeString() : "—"}</td>
              <td>{c.status}</td>
            </tr>
          ))}
          {cases?.length === 0 && <tr><td colSpan={6} className="muted">No legal cases.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}

function LegalCase({ caseId }: { caseId: string }) {
  const { api } = useApp();
  const { busy, run } = useSubmit();
  const [c, setCase] = useState<LegalCaseRead | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setCase(await legalCases.get(api, caseId));
    } catch (err) {
      setMessage(problemText(err));
    }
  }, [api, caseId]);
  useEffect(() => void load(), [load]);

  async function save(fn: (api: ApiClient) => Promise<LegalCaseRead>, done: string) {
    await run(async (api) => {
      try {
        setCase(await fn(api));
        setMessage(done);
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  function update(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const body: LegalCaseUpdate = { reason: text(f, "reason") };
    const task = text(f, "police_task");
    if (task) body.police_task = task as LegalCaseUpdate["police_task"];
    if (text(f, "police_reference")) body.police_reference = text(f, "police_reference");
    if (text(f, "consent")) body.consent = text(f, "consent") as LegalCaseUpdate["consent"];
    if (text(f, "capacity")) body.capacity = text(f, "capacity") as LegalCaseUpdate["capacity"];
    if (text(f, "status")) body.status = text(f, "status") as LegalCaseUpdate["status"];
    void save((api) => legalCases.update(api, caseId, body), "Case updated.");
  }

  function custody(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    void save(
      (api) => legalCases.addCustody(api, caseId, {
        item: text(f, "item"), from_party: text(f, "from_party"), to_party: text(f, "to_party"), note: text(f, "note") || null,
      }),
      "Custody link recorded.",
    ).then(() => form.reset());
  }

  if (!c) return <p role="status">{message ?? "Loading…"}</p>;
  return (
    <section className="panel" aria-labelledby="case-title">
      <p><Link to="/legal-cases">← Legal cases</Link></p>
      <h2 id="case-title">Legal case · {c.categories.join(", ").replace(/_/g, " ")}</h2>
      {message && <p role="status" data-testid="intake-message">{message}</p>}
      <dl className="facts" data-testid="case-facts">
        <dt>Police</dt><dd data-testid="police-task">{TASK_LABEL[c.police_task] ?? c.police_task}{c.police_reference ? ` (ref ${c.police_reference})` : ""}</dd>
        <dt>Due</dt><dd>{c.police_due_at ? new Date(c.police_due_at).toLocaleString() : "—"}</dd>
        <dt>Consent</dt><dd data-testid="consent">{c.consent.replace(/_/g, " ")}</dd>
        <dt>Capacity</dt><dd>{c.capacity.replace(/_/g, " ")}</dd>
        <dt>Circumstances</dt><dd>{c.circumstances ?? "—"}</dd>
      </dl>
      <h3>What the rules require</h3>
      <table className="table" data-testid="obligations">
        <thead><tr><th>Rule</th><th>Tell</th><th>Police</th><th>Shown by</th><th>Legal basis</th></tr></thead>
        <tbody>
          {c.obligations.map((o) => (
            <tr key={o.rule}><td>{o.rule}</td><td>{o.authority.replace(/_/g, " ")}</td><td>{o.police.replace(/_/g, " ")}</td><td>{o.shown_by}</td><td className="small">{o.legal_basis}</td></tr>
          ))}
        </tbody>
      </table>
      <form aria-busy={busy} onSubmit={update} aria-label="Update the case" className="inline">
        <label>Consent <select name="consent" defaultValue=""><option value="">—</option><option value="given">given</option><option value="refused">refused</option><option value="not_asked">not asked</option></select></label>
        <label>Capacity <select name="capacity" defaultValue=""><option value="">—</option><option value="has_capacity">has capacity</option><option value="lacks_capacity">lacks capacity</option><option value="not_assessed">not assessed</option></select></label>
        <label>Police task <select name="police_task" defaultValue=""><option value="">—</option><option value="to_do">to do</option><option value="done">done</option><option value="not_required">not required</option></select></label>
        <label>Police reference <input name="police_reference" maxLength={80} /></label>
        <label>Case <select name="status" defaultValue=""><option value="">—</option><option value="reported">reported</option><option value="closed">closed</option></select></label>
        <label>Reason <input name="reason" required maxLength={500} /></label>
        <button type="submit" disabled={busy}>Save</button>
      </form>
      <h3>Chain of custody</h3>
      <table className="table" data-testid="custody">
        <thead><tr><th>#</th><th>Item</th><th>From</th><th>To</th><th>By</th><th>When</th></tr></thead>
        <tbody>
          {c.custody.map((n) => (
            <tr key={n.id}><td>{n.sequence}</td><td>{n.item}</td><td>{n.from_party}</td><td>{n.to_party}</td><td>{n.recorded_by}</td><td>{new Date(n.recorded_at).toLocaleString()}</td></tr>
          ))}
          {c.custody.length === 0 && <tr><td colSpan={6} className="muted">No evidence handed over yet.</td></tr>}
        </tbody>
      </table>
      <form aria-busy={busy} onSubmit={custody} aria-label="Add a custody link" className="inline">
        <label>Item <input name="item" required maxLength={200} /></label>
        <label>From <input name="from_party" required maxLength={200} /></label>
        <label>To <input name="to_party" required maxLength={200} /></label>
        <label>Note <input name="note" maxLength={2000} /></label>
        <button type="submit" disabled={busy}>Record hand-over</button>
      </form>
      <h3>History</h3>
      <ul data-testid="history">
        {c.history.map((h, i) => (
          <li key={i}>{typeof h.at === "string" ? new Date(h.at).toLocaleString() : ""} · {typeof h.by === "string" ? h.by : ""} · {typeof h.change === "string" ? h.change : JSON.stringify(h.change)}{typeof h.reason === "string" ? ` — ${h.reason}` : ""}</li>
        ))}
      </ul>
    </section>
  );
}
