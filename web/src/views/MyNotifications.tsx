import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { ApiError } from "../api/client";
import type { ContactPointCreated, ContactPointRead, InboxItem, PreferenceRead } from "../api/types";
import { useApp, useChannel } from "../app/context";
import { useSubmit } from "../app/useSubmit";
import { pushSupported, subscribePush } from "../lib/push";

const CHANNELS = ["push", "sms", "email", "webhook", "in_app"] as const;
const KIND_LABEL: Record<string, string> = {
  email: "E-mail",
  sms: "SMS (E.164, e.g. +358401234567)",
  webhook: "Webhook (https URL)",
  push: "Push (this browser)",
};

/** Your contact points (verified by a code), preferences, and in-app inbox. */
export function MyNotifications() {
  const { api, me } = useApp();
  const { busy, run } = useSubmit();
  const [points, setPoints] = useState<ContactPointRead[] | null>(null);
  const [prefs, setPrefs] = useState<PreferenceRead | null>(null);
  const [inbox, setInbox] = useState<InboxItem[]>([]);
  const [kind, setKind] = useState<"email" | "sms" | "webhook">("sms");
  const [address, setAddress] = useState("");
  const [codes, setCodes] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [p, pr, ib] = await Promise.all([
      api.get<ContactPointRead[]>("/api/notifications/contact-points").catch(() => null),
      api.get<PreferenceRead>("/api/notifications/preferences").catch(() => null),
      api.get<InboxItem[]>("/api/notifications/inbox").catch(() => []),
    ]);
    setPoints(p);
    setPrefs(pr);
    setInbox(ib);
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);
  useChannel(me ? `notifications:${me.id}` : null, () => void load());

  function fail(e: unknown, fallback: string) {
    setMessage(e instanceof ApiError ? e.message : fallback);
    if (e instanceof ApiError) setFieldError(e.fields.address ?? e.fields["body.address"] ?? null);
  }

  async function add(e: SyntheticEvent, k: string = kind, value: string = address) {
    e.preventDefault();
    await run(async (api) => {
      setMessage(null);
      setFieldError(null);
      try {
        const created = await api.post<ContactPointCreated>("/api/notifications/contact-points", { kind: k, address: value });
        setSecret(created.webhook_secret ?? null);
        setAddress("");
        setMessage(`A 6-digit code was sent to ${created.masked}. Enter it below.`);
        void load();
      } catch (err) {
        fail(err, "Could not add the contact point");
      }
    });
  }

  async function enablePush() {
    await run(async (api) => {
      setMessage(null);
      try {
        const key = await api.get<{ public_key: string | null }>("/api/notifications/push/key");
        if (!key.public_key) throw new Error("Web Push is not configured on this server.");
        const subscription = await subscribePush(key.public_key);
        await api.post("/api/notifications/contact-points", { kind: "push", address: subscription, label: "This browser" });
        setMessage("Push enabled: enter the code from the notification to verify it.");
        void load();
      } catch (err) {
        setMessage(err instanceof Error ? err.message : "Push could not be enabled");
      }
    });
  }

  async function act(id: string, action: "verify" | "resend" | "test" | "delete") {
    await run(async (api) => {
      setMessage(null);
      try {
        if (action === "verify") await api.post(`/api/notifications/contact-points/${id}/verify`, { code: codes[id] ?? "" });
        if (action === "resend") await api.post(`/api/notifications/contact-points/${id}/resend`);
        if (action === "test") {
          await api.post(`/api/notifications/contact-points/${id}/test`);
          setMessage("Test message queued: it appears in the paging log with each attempt.");
        }
        if (action === "delete") await api.request("DELETE", `/api/notifications/contact-points/${id}`);
        void load();
      } catch (err) {
        fail(err, "The action failed");
      }
    });
  }

  async function savePrefs(next: PreferenceRead) {
    setPrefs(next);
    try {
      setPrefs(await api.request<PreferenceRead>("PUT", "/api/notifications/preferences", next));
    } catch (err) {
      fail(err, "Preferences were not saved");
    }
  }

  return (
    <div className="notify-me">
      <section className="panel" aria-labelledby="points-title">
        <h2 id="points-title">My contact points</h2>
        {message && (
          <p role="status" className="note">
            {message}
          </p>
        )}
        {secret && (
          <p className="small">
            Webhook signing secret (shown once): <code>{secret}</code>
          </p>
        )}
        {points === null ? (
          <p className="muted">Contact points could not be loaded.</p>
        ) : (
          <ul className="list" data-testid="contact-points">
            {points.map((p) => (
              <li key={p.id} className="card point">
                <div className="tile-head">
                  <strong>{p.label}</strong>
                  <span className={p.verified ? "status status-available" : "status"}>
                    {p.kind} · {p.verified ? "verified" : "not verified"}
                  </span>
                </div>
                {!p.verified && (
                  <div className="actions">
                    <label className="code">
                      Code
                      <input
                        inputMode="numeric"
                        maxLength={6}
                        value={codes[p.id] ?? ""}
                        onChange={(e) => setCodes({ ...codes, [p.id]: e.target.value })}
                      />
                    </label>
                    <button disabled={busy} type="button" className="primary" onClick={() => void act(p.id, "verify")}>
                      Verify
                    </button>
                    <button disabled={busy} type="button" onClick={() => void act(p.id, "resend")}>
                      Send a new code
                    </button>
                  </div>
                )}
                <div className="actions">
                  {p.verified && (
                    <button disabled={busy} type="button" onClick={() => void act(p.id, "test")}>
                      Send a test
                    </button>
                  )}
                  <button disabled={busy} type="button" className="danger" onClick={() => void act(p.id, "delete")}>
                    Remove
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
        <form aria-busy={busy} className="form card" onSubmit={(e) => void add(e)} aria-label="Add a contact point">
          <div className="row2">
            <label>
              Channel
              <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
                <option value="sms">{KIND_LABEL.sms}</option>
                <option value="email">{KIND_LABEL.email}</option>
                <option value="webhook">{KIND_LABEL.webhook}</option>
              </select>
            </label>
            <label>
              Address
              <input
                value={address}
                onChange={(e) => setAddress(e.target.value)}
                aria-invalid={fieldError ? true : undefined}
                required
              />
              {fieldError && <span className="error">{fieldError}</span>}
            </label>
          </div>
          <div className="actions">
            <button type="submit" disabled={busy} className="primary">
              Add and send code
            </button>
            {pushSupported() && (
              <button disabled={busy} type="button" onClick={() => void enablePush()}>
                Enable push on this browser
              </button>
            )}
          </div>
        </form>
      </section>
      {prefs && (
        <section className="panel" aria-labelledby="prefs-title">
          <h2 id="prefs-title">Preferences</h2>
          <label>
            Language
            <select value={prefs.language} onChange={(e) => void savePrefs({ ...prefs, language: e.target.value as PreferenceRead["language"] })}>
              <option value="en">English</option>
              <option value="fi">Suomi</option>
            </select>
          </label>
          <fieldset className="recs">
            <legend>Channels I accept (in-app is always on)</legend>
            {CHANNELS.filter((c) => c !== "in_app").map((c) => (
              <label key={c} className="check">
                <input
                  type="checkbox"
                  checked={prefs.channels.includes(c)}
                  onChange={(e) =>
                    void savePrefs({
                      ...prefs,
                      channels: e.target.checked ? [...prefs.channels, c] : prefs.channels.filter((x) => x !== c),
                    })
                  }
                />
                {c}
              </label>
            ))}
          </fieldset>
          <label className="check">
            <input type="checkbox" checked={prefs.quiet_off_duty} onChange={(e) => void savePrefs({ ...prefs, quiet_off_duty: e.target.checked })} />
            Quiet when I am not on call (pages to my role or name)
          </label>
          <label className="check">
            <input type="checkbox" checked={prefs.mute_after_logout} onChange={(e) => void savePrefs({ ...prefs, mute_after_logout: e.target.checked })} />
            Nothing after I log out (pages to my role or name)
          </label>
          <p className="small muted">When you are on call, the schedule's pages reach you regardless.</p>
        </section>
      )}
      <section className="panel" aria-labelledby="inbox-title">
        <h2 id="inbox-title">Inbox</h2>
        {inbox.length === 0 ? (
          <p className="muted">Nothing yet.</p>
        ) : (
          <ul className="list" data-testid="inbox">
            {inbox.map((i) => (
              <li key={i.id} className="unit">
                <strong>{i.subject}</strong> <span className="muted small">{new Date(i.created_at).toLocaleString()}</span>
                <div className="small">{i.text}</div>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
