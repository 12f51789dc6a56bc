import type { ConnectionState } from "../api/realtime";

const TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting to live updates…",
  open: "Live",
  reconnecting: "Connection lost — reconnecting… (data shown may be out of date)",
  offline: "Offline — no network (data shown may be out of date)",
  closed: "Offline",
};

/** The state of the live connection, announced to screen readers when it changes. */
export function ConnectionBanner({ state }: { state: ConnectionState }) {
  return (
    <p className={`conn conn-${state}`} role="status" aria-live="polite" data-testid="connection">
      <span className="dot" aria-hidden="true" />
      {TEXT[state]}
    </p>
  );
}
