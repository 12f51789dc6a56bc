import { useCallback, useEffect, useState } from "react";
import { problemText } from "../../api/emergency";
import { intake, type AgentHealth, type WorkerHealth } from "../../api/intake";
import { useApp, useNow, useResync } from "../../app/context";
import { circuitLabel, workersSummary, workerView } from "../../lib/intakeHealth";

// Heartbeats are a few seconds apart and no event announces one: the view polls.
const POLL_MS = 10_000;

/** What one fetch brought: the data (null while the first is under way), when, and any error. */
export interface Fetched<T> {
  data: T | null;
  at: number;
  error: string | null;
}

function usePolled<T>(fetch: () => Promise<T>): [Fetched<T>, () => void] {
  const [state, setState] = useState<Fetched<T>>({ data: null, at: 0, error: null });
  const load = useCallback(() => {
    fetch().then(
      (data) => setState({ data, at: Date.now(), error: null }),
      // Keep what was shown: an error next to the last known picture says more than none.
      (err: unknown) => setState((s) => ({ ...s, error: problemText(err) })),
    );
  }, [fetch]);
  useEffect(() => {
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, [load]);
  return [state, load];
}

/** The intake workers (alive or silent, runs in flight, takeovers) and each agent's circuit:
 * for a hospital coordinator or IT on call to see whether intake is running. */
export function IntakeHealth() {
  const { me, can } = useApp();
  if (!me) return <p className="muted">Loading…</p>;
  // The routes' own permission (intake:read): the panels are not even fetched without it.
  if (!can("intake:read")) return <p>Your role cannot see the intake workers.</p>;
  return <IntakeHealthPanels />;
}

function IntakeHealthPanels() {
  const { api } = useApp();
  const workersFetch = useCallback(() => intake.workers(api), [api]);
  const agentsFetch = useCallback(() => intake.health(api), [api]);
  const [workers, reloadWorkers] = usePolled(workersFetch);
  const [agents, reloadAgents] = usePolled(agentsFetch);
  useResync(() => {
    reloadWorkers();
    reloadAgents();
  });
  const now = useNow(1000);
  return (
    <div className="intake">
      <WorkersPanel fetched={workers} now={now} />
      <AgentsPanel fetched={agents} />
    </div>
  );
}

export function WorkersPanel({ fetched, now }: { fetched: Fetched<WorkerHealth[]>; now: number }) {
  const { data: workers, error } = fetched;
  const summary = workers && workers.length > 0 ? workersSummary(workers) : null;
  return (
    <section className="panel" aria-labelledby="workers-title" data-testid="intake-workers">
      <h2 id="workers-title">Intake workers</h2>
      <p className="muted">
        The processes that run intake sessions. A worker silent too long is dead: a live one takes over its
        unfinished runs.
      </p>
      {error && <p role="alert">Could not load the workers: {error}</p>}
      {summary && (
        <p role="status" className={summary.alarm ? "health-alarm" : undefined} data-testid="workers-summary">
          {summary.text}
        </p>
      )}
      {workers === null && !error && <p className="muted">Loading workers…</p>}
      {workers?.length === 0 && (
        <p className="muted">No worker has recorded a heartbeat: no intake session runs until one starts.</p>
      )}
      {workers && workers.length > 0 && (
        <table className="table">
          <caption className="sr-only">Intake workers, the most recent heartbeat first</caption>
          <thead>
            <tr>
              <th scope="col">Worker</th>
              <th scope="col">State</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Runs in flight</th>
              <th scope="col">Takeover</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <WorkerRow key={w.executor_id} worker={w} msSinceFetch={now - fetched.at} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function WorkerRow({ worker, msSinceFetch }: { worker: WorkerHealth; msSinceFetch: number }) {
  const v = workerView(worker, msSinceFetch);
  return (
    <tr data-worker={worker.executor_id} data-state={v.state}>
      <th scope="row">
        <code>{worker.executor_id}</code>
        <div className="muted">{v.where}</div>
      </th>
      <td className={`worker-${v.state}`} data-testid="worker-state">
        {v.state}
      </td>
      <td title={new Date(worker.heartbeat_at).toLocaleString()} data-testid="worker-silent-for">
        {v.silentFor} ago
      </td>
      <td>{worker.runs_in_flight}</td>
      <td className={v.waiting ? "health-alarm" : undefined} data-testid="worker-takeover">
        {v.takeover ?? <span className="muted">—</span>}
      </td>
    </tr>
  );
}

export function AgentsPanel({ fetched }: { fetched: Fetched<AgentHealth[]> }) {
  const { data: agents, error } = fetched;
  return (
    <section className="panel" aria-labelledby="agents-title" data-testid="intake-agents">
      <h2 id="agents-title">Intake agents</h2>
      <p className="muted">
        Each agent behind its circuit breaker (as this server&apos;s engine sees it), with attempts and failures so far.
      </p>
      {error && <p role="alert">Could not load the agents: {error}</p>}
      {agents === null && !error && <p className="muted">Loading agents…</p>}
      {agents?.length === 0 && <p className="muted">No intake agent is configured.</p>}
      {agents && agents.length > 0 && (
        <table className="table">
          <caption className="sr-only">Intake agents and their circuit breakers</caption>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Kind</th>
              <th scope="col">Circuit</th>
              <th scope="col">Attempts</th>
              <th scope="col">Failures</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.agent} data-agent={a.agent} data-circuit={a.circuit}>
                <th scope="row">
                  {a.agent.replace(/_/g, " ")} <span className="muted">v{a.version}</span>
                </th>
                <td>{a.clinical ? "clinical" : "non-clinical"}</td>
                <td className={`circuit-${a.circuit}`}>{circuitLabel(a)}</td>
                <td>{a.runs}</td>
                <td>{a.failures}</td>
                <td>{a.last_error ?? <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
