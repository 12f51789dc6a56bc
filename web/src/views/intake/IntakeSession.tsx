import { type SyntheticEvent, useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { opt, problemText } from "../../api/emergency";
import { intake, STEP_LABEL, type SessionRead, type StepRead } from "../../api/intake";
import { useApp, useChannel } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { SessionFollowUps } from "./SessionFollowUps";

type Output = Record<string, unknown>;

const asList = (v: unknown): Output[] => (Array.isArray(v) ? (v as Output[]) : []);
const asText = (v: unknown): string =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "—";

/** What matters first on an intake session, drawn from its steps' outputs. */
function Highlights({ steps }: { steps: StepRead[] }) {
  const out = (agent: string): Output => steps.find((s) => s.agent === agent)?.output ?? {};
  const admission = out("admission");
  const legal = out("legal");
  const records = out("medical_records");
  const comms = out("communication");
  const bed = admission.bed as Output | null | undefined;
  const conflicts = asList(records.conflicts);
  const family = asList(comms.family);
  return (
    <dl className="intake-highlights" data-testid="highlights">
      <dt>Registry match</dt>
      <dd data-testid="registry-match">{admission.person_id ? `${asText(admission.match_decision)} (person ${asText(admission.person_id)})` : "—"}</dd>
      <dt>Bed</dt>
      <dd data-testid="bed">{bed ? `${asText(bed.label)} (${asText(bed.zone)})` : "—"}</dd>
      <dt>Allergy conflicts</dt>
      <dd data-testid="allergy-conflicts" className={conflicts.length ? "alert-text" : undefined}>
        {conflicts.length
          ? conflicts.map((c) => `${asText(c.medication)} ↔ ${asText(c.allergy)} allergy (${asText(c.severity)})`).join("; ")
          : "none found"}
      </dd>
      <dt>Legal case</dt>
      <dd data-testid="legal-case">
        {legal.case_id ? (
          <>
            {(Array.isArray(legal.rules) ? legal.rules : []).map(asText).join(", ")} — police task {asText(legal.police_task)}
          </>
        ) : (
          "—"
        )}
      </dd>
      <dt>Family</dt>
      <dd data-testid="family">
        {family.length ? family.map((f) => `${asText(f.channel)} ${asText(f.status)}`).join("; ") : "—"}
      </dd>
    </dl>
  );
}

function StepRow({ step }: { step: StepRead }) {
  return (
    <tr data-agent={step.agent} data-status={step.status}>
      <td>{step.position + 1}</td>
      <td>{step.agent.replace(/_/g, " ")}{step.clinical ? "" : <span className="muted"> (non-clinical)</span>}</td>
      <td className={`step-${step.status}`}>{STEP_LABEL[step.status] ?? step.status}{step.forced ? " (forced)" : ""}</td>
      <td>{step.attempts}</td>
      <td>{typeof step.duration_ms === "number" ? `${Math.round(step.duration_ms)} ms` : "—"}</td>
      <td>{step.error ?? ""}</td>
      <td>
        <ul className="decisions">
          {(step.decisions ?? []).map((d, i) => (
            <li key={i}><code>{d.rule}@{d.version}</code>: {d.result}</li>
          ))}
        </ul>
      </td>
    </tr>
  );
}

/** One patient's intake session, live: steps, decisions, highlights, overrides. */
export function IntakeSession() {
  const { sessionId = "" } = useParams();
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [session, setSession] = useState<SessionRead | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [action, setAction] = useState<"skip" | "force" | "reorder">("skip");

  const load = useCallback(async () => {
    try {
      setSession(await intake.session(api, sessionId));
    } catch (err) {
      setMessage(problemText(err));
    }
  }, [api, sessionId]);
  useEffect(() => void load(), [load]);
  useChannel(sessionId ? `intake:${sessionId}` : null, () => void load());

  async function override(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget; // React clears currentTarget once the handler awaits
      const f = new FormData(form);
      const order = (opt(f, "order") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      try {
        setSession(
          await intake.override(api, sessionId, {
            action,
            agent: action === "reorder" ? null : opt(f, "agent"),
            order: action === "reorder" ? order : null,
            reason: opt(f, "reason") ?? "",
          }),
        );
        setMessage("Override recorded.");
        form.reset();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  if (!session) return <p role={message ? "alert" : "status"}>{message ?? "Loading…"}</p>;
  return (
    <div className="intake-session">
      <p><Link to="/intake">← ED intake board</Link></p>
      <section className="panel" aria-labelledby="session-title">
        <h2 id="session-title">
          Intake session <span className="muted">{session.workflow}</span>{" "}
          <span data-testid="session-status" className={`session-${session.status}`}>{session.status}</span>
        </h2>
        <p className="muted">
          Started {new Date(session.created_at).toLocaleTimeString()}
          {session.clinical_done_at ? ` · clinical steps done ${new Date(session.clinical_done_at).toLocaleTimeString()}` : ""}
        </p>
        {message && <p role="status" data-testid="session-message">{message}</p>}
        <Highlights steps={session.steps} />
        <table className="table" data-testid="steps">
          <thead>
            <tr><th>#</th><th>Step</th><th>Status</th><th>Tries</th><th>Time</th><th>Error</th><th>Decisions</th></tr>
          </thead>
          <tbody>
            {[...session.steps].sort((a, b) => a.position - b.position).map((s) => <StepRow key={s.agent} step={s} />)}
          </tbody>
        </table>
      </section>
      <SessionFollowUps sessionId={sessionId} />
      {can("intake:override") && (
        <section className="panel" aria-labelledby="override-title">
          <h2 id="override-title">Override</h2>
          <form aria-busy={busy} onSubmit={(e) => void override(e)} aria-label="Override">
            <label>Action{" "}
              <select name="action" value={action} onChange={(e) => setAction(e.target.value as typeof action)}>
                <option value="skip">skip a step</option>
                <option value="force">force a step now</option>
                <option value="reorder">re-order waiting steps</option>
              </select>
            </label>{" "}
            {action === "reorder" ? (
              <label>New order (comma-separated) <input name="order" /></label>
            ) : (
              <label>Step{" "}
                <select name="agent">
                  {session.steps.map((s) => <option key={s.agent} value={s.agent}>{s.agent}</option>)}
                </select>
              </label>
            )}{" "}
            <label>Reason (required) <input name="reason" required minLength={3} /></label>{" "}
            <button type="submit" disabled={busy}>Apply override</button>
          </form>
        </section>
      )}
      <section className="panel" aria-labelledby="overrides-title">
        <h2 id="overrides-title">Overrides</h2>
        <table className="table" data-testid="overrides">
          <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Step</th><th>Reason</th></tr></thead>
          <tbody>
            {session.overrides.map((o, i) => (
              <tr key={i}>
                <td>{new Date(o.created_at).toLocaleTimeString()}</td>
                <td title={o.actor}>{o.actor_name ?? o.actor}</td>
                <td>{o.action}</td>
                <td>{o.agent ?? (o.order ?? []).join(" → ")}</td>
                <td>{o.reason}</td>
              </tr>
            ))}
            {session.overrides.length === 0 && <tr><td colSpan={5} className="muted">None.</td></tr>}
          </tbody>
        </table>
      </section>
    </div>
  );
}
