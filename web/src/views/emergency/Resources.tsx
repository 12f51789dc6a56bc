import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import {
  emergency,
  problemText,
  type ActivityRead,
  type ResourceCreate,
  type ResourceRead,
  text,
  opt,
} from "../../api/emergency";
import { Link } from "react-router-dom";
import { useApp, useChannel, useResync } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { CsvTools } from "./Emergency";

const KINDS = ["fire_engine", "rescue", "helicopter", "mobile_command", "generator", "boat", "equipment"];
const STATUSES = ["available", "assigned", "out_of_service", "maintenance"];

/** The resources board: every resource, dispatch's ambulances included, by kind. */
export function Resources() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [board, setBoard] = useState<ResourceRead[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => setBoard(await emergency.board(api).catch(() => null)), [api]);
  useEffect(() => void load(), [load]);
  useResync(() => void load());
  useChannel("emergency", () => void load());
  useChannel(can("units:read") ? "units" : null, () => void load());

  async function add(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      const form = e.currentTarget;
      try {
        await emergency.createResource(api, {
          name: text(f, "name"),
          kind: text(f, "kind") as ResourceRead["kind"],
          agency: text(f, "agency"),
          home_lat: Number(f.get("lat")),
          home_lon: Number(f.get("lon")),
          home_name: opt(f, "home"),
          capabilities: text(f, "capabilities").split(",").map((s) => s.trim()).filter(Boolean),
        });
        form.reset();
        setMessage("Resource added.");
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  async function setStatus(r: ResourceRead, status: string) {
    await run(async (api) => {
      try {
        await emergency.updateResource(api, r.id, { status: status as ResourceCreate["status"] });
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  const groups = new Map<string, ResourceRead[]>();
  for (const r of board ?? []) groups.set(r.kind, [...(groups.get(r.kind) ?? []), r]);
  return (
    <div className="two-col">
      <section className="panel grow" aria-labelledby="board-title">
        <h2 id="board-title">Resources board</h2>
        {board === null && <p className="muted">Loading…</p>}
        <table className="table" data-testid="resources-board">
          <thead>
            <tr>
              <th>Kind</th><th>Name</th><th>Agency</th><th>Status</th><th>Incident</th><th>Capabilities</th><th>Recent activity</th>
            </tr>
          </thead>
          <tbody>
            {[...groups.entries()].map(([kind, items]) =>
              items.map((r) => (
                <tr key={r.id}>
                  <td>{kind.replace(/_/g, " ")}</td>
                  <td>{r.name}{r.source === "dispatch" && <span className="muted small"> (dispatch unit)</span>}</td>
                  <td>{r.agency}</td>
                  <td>
                    {r.source === "emergency" && can("emergency:write") ? (
                      <select aria-label={`Status of ${r.name}`} disabled={busy} value={r.status} onChange={(e) => void setStatus(r, e.target.value)}>
                        {STATUSES.map((s) => <option key={s} value={s}>{s.replace(/_/g, " ")}</option>)}
                      </select>
                    ) : (
                      <span className={`status status-${r.status}`}>{r.status.replace(/_/g, " ")}</span>
                    )}
                  </td>
                  <td className="small">{r.incident_id ?? "—"}</td>
                  <td className="small">{r.capabilities.join(", ")}</td>
                  <td className="small"><ResourceHistory id={r.id} name={r.name} /></td>
                </tr>
              )),
            )}
            {board?.length === 0 && <tr><td colSpan={7} className="muted">No resources yet.</td></tr>}
          </tbody>
        </table>
        <CsvTools kind="resources" onImported={() => void load()} />
      </section>
      {can("emergency:write") && (
        <aside className="panel side">
          <h2>Add a resource</h2>
          <form aria-busy={busy} onSubmit={(e) => void add(e)} className="form">
            <label>Name<input name="name" required maxLength={120} /></label>
            <label>Kind<select name="kind">{KINDS.map((k) => <option key={k} value={k}>{k.replace(/_/g, " ")}</option>)}</select></label>
            <label>Agency<input name="agency" required /></label>
            <label>Home (station)<input name="home" /></label>
            <div className="row2">
              <label>Latitude<input name="lat" type="number" step="any" required defaultValue={60.17} /></label>
              <label>Longitude<input name="lon" type="number" step="any" required defaultValue={24.94} /></label>
            </div>
            <label>Capabilities (comma separated)<input name="capabilities" /></label>
            <button disabled={busy} className="primary" type="submit">Add resource</button>
          </form>
          {message && <p role="status">{message}</p>}
        </aside>
      )}
    </div>
  );
}

/** The last few log entries of one resource, fetched when opened (the full log: Activity). */
function ResourceHistory({ id, name }: { id: string; name: string }) {
  const { api } = useApp();
  const [entries, setEntries] = useState<ActivityRead[] | null>(null);
  return (
    <details onToggle={(e) => e.currentTarget.open && void emergency.activity(api, "resource", id).then(setEntries, () => setEntries([]))}>
      <summary aria-label={`History of ${name}`}>history</summary>
      <ul className="list" data-testid={`history-${name}`}>
        {(entries ?? []).slice(0, 5).map((a) => (
          <li key={a.id}>
            {new Date(a.at).toLocaleString()} · {a.actor} · {a.action.replace(/_/g, " ")}{a.detail ? ` — ${a.detail}` : ""}
          </li>
        ))}
        {entries?.length === 0 && <li className="muted">Nothing recorded.</li>}
      </ul>
      <Link to={`/emergency/activity?subject=resource&id=${encodeURIComponent(id)}`}>Full log</Link>
    </details>
  );
}
