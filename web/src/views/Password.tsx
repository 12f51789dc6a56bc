import { useEffect, useState, type SyntheticEvent } from "react";
import { ApiError } from "../api/client";
import type { PasswordPolicy } from "../api/types";
import { useApp } from "../app/context";

/** Change one's own password. The server ends every session of the account (this one too),
 * so a stolen session dies with the old password; the user signs in again afterwards. */
export function Password() {
  const { api } = useApp();
  const [policy, setPolicy] = useState<PasswordPolicy | null>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.get<PasswordPolicy>("/api/auth/password-policy").then(setPolicy, () => undefined);
  }, [api]);

  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    setError(null);
    if (next !== repeat) {
      setError("The two new passwords differ.");
      return;
    }
    setBusy(true);
    try {
      await api.changePassword(current, next);
      // The session has ended: the app returns to the sign-in screen.
    } catch (err) {
      if (err instanceof ApiError) {
        setError(err.fields.new_password ?? err.fields.password ?? err.message);
      } else {
        setError("Cannot reach EMsync");
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="password-title">
      <h1 id="password-title">Change password</h1>
      <form className="password-form" onSubmit={(e) => void submit(e)}>
        {policy && (
          <div>
            <p className="muted">A new password must be:</p>
            <ul data-testid="password-rules">
              {policy.rules.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </div>
        )}
        <label>
          Current password
          <input
            type="password"
            autoComplete="current-password"
            required
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        </label>
        <label>
          New password
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={policy?.min_length ?? 15}
            maxLength={policy?.max_length ?? 256}
            value={next}
            onChange={(e) => setNext(e.target.value)}
          />
        </label>
        <label>
          New password again
          <input
            type="password"
            autoComplete="new-password"
            required
            value={repeat}
            onChange={(e) => setRepeat(e.target.value)}
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <p className="muted">Changing it signs you out everywhere; sign in again with the new one.</p>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Changing…" : "Change password"}
        </button>
      </form>
    </section>
  );
}
