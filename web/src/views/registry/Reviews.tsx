import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { problemText } from "../../api/emergency";
import { registry, type ReviewRead } from "../../api/registry";
import { useApp, useChannel } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { personLabel } from "./Persons";

/** The grey zone: pairs the matcher was unsure of, for a person to decide. */
export function Reviews() {
  const { api } = useApp();
  const { busy, run } = useSubmit();
  const [reviews, setReviews] = useState<ReviewRead[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => setReviews(await registry.reviews(api).catch(() => [])), [api]);
  useEffect(() => void load(), [load]);
  useChannel("registry", () => void load());

  async function decide(r: ReviewRead, same: boolean) {
    await run(async (api) => {
      try {
        await registry.decide(api, r.id, same, same ? "same person (reviewed)" : "different persons (reviewed)");
        setMessage(same ? "Merged." : "Kept apart.");
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  return (
    <section className="panel" aria-labelledby="reviews-title">
      <h2 id="reviews-title">Match review queue</h2>
      {message && <p role="status">{message}</p>}
      <table className="table" data-testid="reviews">
        <thead>
          <tr><th>New record</th><th>Existing person</th><th>Weight</th><th>Agree</th><th>Near</th><th>Disagree</th><th>Decision</th></tr>
        </thead>
        <tbody>
          {(reviews ?? []).map((r) => (
            <tr key={r.id}>
              <td><Link to={`/persons/${r.person.id}`}>{personLabel(r.person)}</Link></td>
              <td><Link to={`/persons/${r.candidate.id}`}>{personLabel(r.candidate)}</Link></td>
              <td>{r.match_weight.toFixed(1)}</td>
              <td>{r.fields.agree.join(", ")}</td>
              <td>{r.fields.near.join(", ")}</td>
              <td>{r.fields.disagree.join(", ")}</td>
              <td>
                <button disabled={busy} type="button" onClick={() => void decide(r, true)}>Same person</button>{" "}
                <button disabled={busy} type="button" onClick={() => void decide(r, false)}>Different</button>
              </td>
            </tr>
          ))}
          {reviews?.length === 0 && <tr><td colSpan={7} className="muted">Nothing to review.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
