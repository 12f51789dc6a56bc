/* What is waiting to be sent (and why), and what the server refused: the crew always knows
 * whether the hospital and dispatch have heard what they tapped. */
import { clock } from "../../lib/handoff";
import type { QueueState, Refusal } from "./queue";

export function QueuePanel({ state, onDismiss }: { state: QueueState; onDismiss: (r: Refusal) => void }) {
  if (state.pending.length === 0 && state.refused.length === 0) return null;
  return (
    <section className="card crew-section queue" aria-labelledby="crew-queue" data-testid="crew-queue">
      <h2 id="crew-queue">Waiting to send ({state.pending.length})</h2>
      {state.pending.length > 0 && (
        <ol className="small" data-testid="queue-pending">
          {state.pending.map((a) => (
            <li key={a.id}>
              {a.label} <span className="muted">· {clock(new Date(a.queuedAt).toISOString())}</span>
              {a.attempts > 0 && <span className="muted"> · tried {a.attempts}×{a.lastError ? ` (${a.lastError})` : ""}</span>}
            </li>
          ))}
        </ol>
      )}
      {state.refused.map((r) => (
        <p key={r.action.id} role="alert" className="error small" data-testid="queue-refused">
          Not done: {r.action.label} — {r.message}{" "}
          <button type="button" onClick={() => onDismiss(r)}>
            OK
          </button>
        </p>
      ))}
    </section>
  );
}
