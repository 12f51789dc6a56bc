/* The audit log: every state-changing request and login, hash-chained; filter it, read who did
 * what by name, and verify the chain (recomputed on the server, checked against its signed
 * checkpoints and, on PostgreSQL, the append-only trigger). */
import { useCallback, useEffect, useState } from "react";
import type { components } from "../../api/schema";
import { useApp } from "../../app/context";
import { auditQuery, chainVerdict } from "../../lib/admin";
import { when } from "./common";

type Entry = components["schemas"]["AuditEntryRead"];
type Verification = components["schemas"]["AuditVerification"];
const PAGE = 50;

export function Audit() {
  const { api } = useApp();
  const [filters, setFilters] = useState({ action: "", since: "", failures: false });
  const [entries, setEntries] = useState<Entry[]>([]);
  const [more, setMore] = useState(false);
  const [verification, setVerification] = useState<Verification | null>(null);
  const [checking, setChecking] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(
    (before: number | null) => {
      const query = auditQuery({ ...filters, since: filters.since ? new Date(filters.since).toISOString() : "" }, before, PAGE);
      api.get<Entry[]>(`/api/audit?${query}`).then(
        (rows) => {
          setEntries((old) => (before === null ? rows : [...old, ...rows]));
          setMore(rows.length === PAGE);
          setMessage(null);
        },
        (e: unknown) => setMessage(e instanceof Error ? e.message : "Could not load the audit log"),
      );
    },
    [api, filters],
  );
  useEffect(() => load(null), [load]);
  async function verify() {
    setChecking(true);
    try {
      setVerification(await api.get<Verification>("/api/audit/verify"));
    } catch (e) {
      setMessage((e as Error).message);
    } finally {
      setChecking(false);
    }
  }
  const verdict = verification ? chainVerdict(verification) : null;

  return (
    <section className="panel" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <div className="actions" data-testid="audit-filters">
        <label>
          Action contains
          <input type="search" value={filters.action} onChange={(e) => setFilters((f) => ({ ...f, action: e.target.value }))} />
        </label>
        <label>
          Since
          <input type="datetime-local" value={filters.since} onChange={(e) => setFilters((f) => ({ ...f, since: e.target.value }))} />
        </label>
        <label className="check">
          <input type="checkbox" checked={filters.failures} onChange={(e) => setFilters((f) => ({ ...f, failures: e.target.checked }))} />
          Refused or failed only
        </label>
        <button type="button" className="primary" onClick={() => void verify()} disabled={checking}>
          {checking ? "Verifying…" : "Verify chain"}
        </button>
      </div>
      {verdict && (
        <p role="status" className={verdict.ok ? "ok verdict" : "warn verdict"} data-testid="chain-verdict">
          {verdict.text}
        </p>
      )}
      {message && (
        <p role="alert" className="warn">
          {message}
        </p>
      )}
      <table className="table" data-testid="audit">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Target</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq}>
              <td className="small">{e.seq}</td>
              <td className="small">{when(e.at)}</td>
              <td title={e.actor}>{e.actor_name ?? e.actor}</td>
              <td className="small mono">{e.action}</td>
              <td className="small mono">{e.target === "{}" ? "" : e.target}</td>
              <td className={e.outcome === "success" ? "small" : "small warn"}>{e.outcome}</td>
            </tr>
          ))}
          {entries.length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                No entries match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {more && (
        <button type="button" onClick={() => load(entries[entries.length - 1]?.seq ?? null)}>
          Older entries
        </button>
      )}
    </section>
  );
}
