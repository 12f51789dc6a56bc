import { useState } from "react";
import { ApiError } from "../api/client";
import type { AckResult } from "../api/types";

/** The page an e-mail or SMS acknowledgement link opens. It works without logging in (the link
 * is signed and one-time) and acknowledges only when the person presses the button, so a link
 * preview or a mail scanner fetching the URL acknowledges nothing. */
export function AckLink({ token }: { token: string }) {
  const [result, setResult] = useState<AckResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function acknowledge() {
    setBusy(true);
    setError(null);
    try {
      const res = await fetch("/api/notifications/ack", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token }),
      });
      const body = (await res.json()) as AckResult & { detail?: string };
      if (!res.ok) throw new ApiError(res.status, body.detail ?? "The link could not be used");
      setResult(body);
    } catch (e) {
      setError(e instanceof Error ? e.message : "The link could not be used");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="login">
      <div className="panel ack">
        <h1>EMsync page</h1>
        {result ? (
          <p role="status" data-testid="ack-done">
            Acknowledged. Escalation has stopped; the alert shows you took it.
          </p>
        ) : (
          <>
            <p>Acknowledge this page so that it stops escalating to the next person.</p>
            <button type="button" className="primary" disabled={busy} onClick={() => void acknowledge()}>
              Acknowledge
            </button>
          </>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <p>
          <a href="/paging">Open the dashboard</a>
        </p>
      </div>
    </div>
  );
}
