/* Each screen loads its own bundle when first opened (App.tsx). While it loads, the top bar (the
 * navigation and the live-connection status) stays on screen; if the bundle cannot be fetched
 * (the network dropped, the server restarted with a new build), the screen says so and offers a
 * reload, instead of React unmounting the whole dashboard and leaving a blank page. */
import { Component, Suspense, type ErrorInfo, type ReactNode } from "react";

interface State {
  error: Error | null;
}

class Boundary extends Component<{ children: ReactNode; where: string }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    // The console is where a support engineer looks first; no patient data is in a load error.
    console.error(`EMsync: the ${this.props.where} screen failed`, error, info.componentStack);
  }

  override componentDidUpdate(prev: { where: string }): void {
    // Another screen chosen from the navigation: try again there.
    if (prev.where !== this.props.where && this.state.error) this.setState({ error: null });
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="panel" role="alert" data-testid="view-error">
        <h2>This screen could not be shown</h2>
        <p className="error">{error.message}</p>
        <p className="muted small">Nothing you saved is lost. Reloading fetches the screen again.</p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}

/** A screen's loading and failure states, below the top bar. `where` names the screen (the
 * route's path), so moving to another screen clears an earlier failure. */
export function ViewBoundary({ where, children }: { where: string; children: ReactNode }) {
  return (
    <Boundary where={where}>
      <Suspense fallback={<p className="muted" role="status">Loading…</p>}>{children}</Suspense>
    </Boundary>
  );
}
