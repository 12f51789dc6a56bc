import { useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { ViewBoundary } from "../../components/ViewBoundary";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { download, problemText, upload } from "../../api/emergency";

const TABS = [
  ["resources", "Resources"],
  ["roster", "Roster & on duty"],
  ["shelters", "Shelters"],
  ["inventory", "Inventory"],
  ["alerts", "Public alerts"],
  ["map", "Map"],
  ["search", "Search"],
  ["activity", "Activity log"],
] as const;

/** Emergency management: one page per area, tabs across the top. */
export function Emergency() {
  const { pathname } = useLocation();
  return (
    <div className="emergency">
      <nav aria-label="Emergency management" className="tabs">
        {TABS.map(([to, label]) => (
          <NavLink key={to} to={`/emergency/${to}`}>
            {label}
          </NavLink>
        ))}
      </nav>
      {/* The tabs stay while a tab's screen loads. */}
      <ViewBoundary where={pathname}>
        <Outlet />
      </ViewBoundary>
    </div>
  );
}

/** CSV export and all-or-nothing import of one kind of record. */
export function CsvTools({ kind, onImported }: { kind: "resources" | "personnel" | "shelters" | "supplies"; onImported: () => void }) {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [message, setMessage] = useState<string | null>(null);
  async function onFile(file: File | undefined) {
    if (!file) return;
    await run(async (api) => {
      setMessage(null);
      try {
        const r = await upload<{ imported: number }>(api, `/api/emergency/csv/${kind}`, file);
        setMessage(`Imported ${r.imported} row(s).`);
        onImported();
      } catch (e) {
        setMessage(`Nothing imported. ${problemText(e)}`);
      }
    });
  }
  return (
    <details className="csv">
      <summary>CSV import / export</summary>
      <div className="actions">
        <button type="button" onClick={() => void download(api, `/api/emergency/csv/${kind}`, `${kind}.csv`)}>
          Export CSV
        </button>
        <button type="button" onClick={() => void download(api, `/api/emergency/csv/${kind}?bom=true`, `${kind}-excel.csv`)}>
          Export for Excel (BOM)
        </button>
        {can("emergency:write") && (
          <label>
            Import CSV (all rows or none)
            <input type="file" accept=".csv,text/csv" disabled={busy} onChange={(e) => void onFile(e.target.files?.[0])} />
          </label>
        )}
      </div>
      {message && (
        <p role="status" className="pre small">
          {message}
        </p>
      )}
    </details>
  );
}
