/* The road map this server routes on (which extract, its size), and importing another one from
 * the server's map directory: a background job whose progress shows here as it builds. */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import type { components } from "../../api/schema";
import { useApp } from "../../app/context";
import { importPercent } from "../../lib/admin";
import { Field, Status, useSubmit, when } from "./common";

type ImportJob = components["schemas"]["ImportJob"];
type ImportFiles = components["schemas"]["MapImportFiles"];
interface MapInfo {
  region: string;
  source_file: string;
  sha256: string;
  nodes: number;
  edges: number;
  road_km: number;
  hospitals_in_map: number;
  bbox: number[];
  profile: string;
}

export function RoadMap() {
  const { api } = useApp();
  const [info, setInfo] = useState<MapInfo | null>(null);
  const [files, setFiles] = useState<ImportFiles | null>(null);
  const [jobs, setJobs] = useState<ImportJob[]>([]);
  const [file, setFile] = useState("");
  const load = useCallback(() => {
    api.get<MapInfo>("/api/map").then(setInfo, () => undefined);
    api.get<ImportFiles>("/api/map/import-files").then(setFiles, () => undefined);
    api.get<ImportJob[]>("/api/map/imports").then(setJobs, () => undefined);
  }, [api]);
  useEffect(load, [load]);
  const { message, errors, run, setMessage, busy } = useSubmit(load);
  const running = jobs.find((j) => j.state === "running") ?? null;
  // Follow the running job until it ends, then show the map it switched to.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => {
      api.get<ImportJob>(`/api/map/imports/${encodeURIComponent(running.id)}`).then((job) => {
        setJobs((all) => all.map((j) => (j.id === job.id ? job : j)));
        if (job.state !== "running") {
          setMessage(null);
          load();
        }
      }, () => undefined);
    }, 500);
    return () => clearInterval(timer);
  }, [api, running?.id, load, setMessage]); // eslint-disable-line react-hooks/exhaustive-deps
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    await run((api) => api.post<ImportJob>("/api/map/imports", { file }), `Import of ${file} started.`);
  }

  return (
    <div className="admin-split">
      <section className="panel" aria-labelledby="map-title">
        <h2 id="map-title">Loaded road map</h2>
        {info ? (
          <dl className="facts" data-testid="map-info">
            <dt>Region</dt>
            <dd>{info.region}</dd>
            <dt>File</dt>
            <dd>{info.source_file}</dd>
            <dt>Road network</dt>
            <dd>
              {info.nodes.toLocaleString()} junctions, {info.edges.toLocaleString()} road segments, {info.road_km.toLocaleString()} km
            </dd>
            <dt>Hospitals in the map</dt>
            <dd>{info.hospitals_in_map}</dd>
            <dt>Area</dt>
            <dd className="small">{info.bbox.map((v) => v.toFixed(4)).join(", ")} (west, south, east, north)</dd>
            <dt>Speed profile</dt>
            <dd>{info.profile}</dd>
            <dt>SHA-256</dt>
            <dd className="small mono">{info.sha256.slice(0, 16)}…</dd>
          </dl>
        ) : (
          <p className="muted">Loading the map…</p>
        )}
        <h3>Imports</h3>
        <ul className="list" data-testid="map-imports">
          {jobs.map((j) => (
            <li key={j.id} className="card">
              <strong>{j.file}</strong> · {j.state === "running" ? j.stage : j.state} · started {when(j.started_at)}
              {j.state === "running" && (
                <div>
                  <progress max={100} value={importPercent(j)} aria-label={`Import of ${j.file}`}>
                    {importPercent(j)}%
                  </progress>{" "}
                  step {j.step} of {j.steps}
                </div>
              )}
              {j.error && <div className="warn">{j.error}</div>}
              {j.state === "done" && (
                <div className="ok small">
                  Done {when(j.finished_at)}: {(j.summary?.nodes ?? 0).toLocaleString()} junctions. Now routing on this map (until restart: set EMSYNC_MAP_PBF to keep it).
                </div>
              )}
            </li>
          ))}
          {jobs.length === 0 && <li className="muted">No imports since the server started.</li>}
        </ul>
      </section>
      <form aria-busy={busy} className="form card" aria-labelledby="import-title" onSubmit={(e) => void submit(e)}>
        <h2 id="import-title">Import another map</h2>
        {files && !files.enabled ? (
          <p className="muted">Importing from the dashboard is off: the server has no map directory (EMSYNC_MAP_IMPORT_DIR).</p>
        ) : (
          <>
            <p className="muted small">An .osm.pbf extract from the server's map directory. The road graph, the address index and the basemap are built, then every route uses the new map.</p>
            <Field label="Map file" error={errors.file}>
              <select name="map-file" required value={file} onChange={(e) => setFile(e.target.value)}>
                <option value="">—</option>
                {(files?.files ?? []).map((f) => (
                  <option key={f} value={f}>
                    {f}
                  </option>
                ))}
              </select>
            </Field>
            <button type="submit" className="primary" disabled={busy || running !== null}>
              Import and switch
            </button>
          </>
        )}
        <Status message={message} />
      </form>
    </div>
  );
}
