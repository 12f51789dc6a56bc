/* Pieces every admin page shares: a submit helper that turns problem+json into field errors
 * (one submission at a time, keyed: app/useSubmit), a labelled field, and the panel that shows a
 * secret once. */
import { useState, type ReactNode } from "react";
import { ApiError, type ApiClient } from "../../api/client";
import { useSubmit as useOneSubmission } from "../../app/useSubmit";

export function useSubmit(onDone: () => void) {
  const [message, setMessage] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, run: once } = useOneSubmission();
  /** True once `call` succeeded; false when it failed or another call was still in flight. */
  const run = async (call: (api: ApiClient) => Promise<unknown>, done: string): Promise<boolean> =>
    (await once(async (api) => {
      setMessage(null);
      setErrors({});
      try {
        await call(api);
        setMessage(done);
        onDone();
        return true;
      } catch (e) {
        if (e instanceof ApiError) {
          setErrors(e.fields);
          setMessage(e.message);
        } else setMessage("Not saved");
        return false;
      }
    })) ?? false;
  return { message, errors, run, setMessage, busy };
}

export function Field({ label, error, children }: { label: string; error?: string | undefined; children: ReactNode }) {
  return (
    <label>
      {label}
      {children}
      {error && <span className="error">{error}</span>}
    </label>
  );
}

/** A key shown this once (the server keeps only its hash or its sealed copy): copy it now. */
export function OnceSecret({ title, secret, note, onDismiss }: { title: string; secret: string; note: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="once card" role="region" aria-label={title} data-testid="once-secret">
      <h3>{title}</h3>
      <p className="small">{note}</p>
      <code className="secret" data-testid="secret-value">
        {secret}
      </code>
      <div className="actions">
        <button type="button" onClick={() => void copy(secret).then(setCopied)}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" className="primary" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
    </section>
  );
}

/** The clipboard exists only in secure contexts (HTTPS, localhost): elsewhere, select by hand. */
async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function Status({ message }: { message: string | null }) {
  return message ? <p role="status">{message}</p> : null;
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "—");
