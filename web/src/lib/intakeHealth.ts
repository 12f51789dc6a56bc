/* The intake health panel's words: a worker alive or silent (and since when), who took over a
   silent one's runs, and an agent's circuit breaker, said for a coordinator or IT on call. */
import type { AgentHealth, WorkerHealth } from "../api/intake";
import { ago } from "./time";

export interface WorkerView {
  state: "alive" | "silent";
  /** Since its last heartbeat: the server's count at fetch time plus the time since the fetch
   * (a browser's clock may be off; only its elapsed time is used). */
  silentFor: string;
  /** Where the process runs; a worker noticed only by its unfinished runs has no host. */
  where: string;
  /** Who took over its runs, or what is still to happen; null when nothing was taken over. */
  takeover: string | null;
  /** Silent and nobody has taken its runs yet: sessions wait on it. */
  waiting: boolean;
}

export function workerView(w: WorkerHealth, msSinceFetch: number): WorkerView {
  const silentFor = ago(w.silent_seconds * 1000 + Math.max(0, msSinceFetch));
  const where = w.host ? `${w.host} · pid ${w.pid}` : "host unknown (seen only by its runs)";
  const runs = `${w.runs_taken_over} run${w.runs_taken_over === 1 ? "" : "s"} moved`;
  const takenAt = w.taken_over_at ? ` at ${new Date(w.taken_over_at).toLocaleTimeString()}` : "";
  const takeover = w.taken_over_by
    ? `taken over by ${w.taken_over_by}${takenAt} (${runs})`
    : w.alive
      ? null
      : "not taken over yet";
  return { state: w.alive ? "alive" : "silent", silentFor, where, takeover, waiting: !w.alive && !w.taken_over_by };
}

/** One line over the table: how many alive and silent, and what needs someone's attention. */
export function workersSummary(workers: WorkerHealth[]): { text: string; alarm: boolean } {
  const alive = workers.filter((w) => w.alive).length;
  const silent = workers.length - alive;
  const waiting = workers.filter((w) => !w.alive && !w.taken_over_by).length;
  const counts = `${alive} alive, ${silent} silent`;
  if (alive === 0)
    return { text: `${counts}. No live worker: new intake sessions wait until one starts.`, alarm: true };
  if (waiting > 0)
    return { text: `${counts}. ${waiting} silent worker${waiting === 1 ? "" : "s"} not taken over yet.`, alarm: true };
  return { text: `${counts}.`, alarm: false };
}

/** An agent's circuit breaker in words (aiobreaker's states as the API names them). */
export const CIRCUIT_LABEL: Record<string, string> = {
  closed: "closed: calls go through",
  open: "open: calls refused until it resets",
  "half-open": "half-open: trying one call",
  unknown: "unknown: this server runs no intake engine",
};

export function circuitLabel(agent: AgentHealth): string {
  return CIRCUIT_LABEL[agent.circuit] ?? agent.circuit;
}
