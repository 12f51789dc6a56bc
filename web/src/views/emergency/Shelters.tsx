import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import {
  emergency,
  problemText,
  type EvacueeRead,
  type OccupancyPoint,
  type ShelterRead,
  text,
  opt,
} from "../../api/emergency";
import { useApp, useChannel, useResync } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { CsvTools } from "./Emergency";

function Bar({ used, total, label }: { used: number; total: number; label: string }) {
  const pct = total > 0 ? Math.round((100 * used) / total) : 0;
  return (
    <div className="occ">
      <span className="small">{label}: {used} / {total}</span>
      <meter min={0} max={Math.max(total, 1)} value={used} high={Math.max(total, 1) * 0.9} aria-label={`${label} ${pct}% full`} />
    </div>
  );
}

/** Shelters with occupancy, opening and closing, check-in/out, reunification search. */
export function Shelters() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [shelters, setShelters] = useState<ShelterRead[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => setShelters(await emergency.shelters(api).catch(() => null)), [api]);
  useEffect(() => void load(), [load]);
  useResync(() => void load());
  useChannel("emergency", () => void load());
  const shelter = shelters?.find((s) => s.id === chosen) ?? null;

  async function create(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      const f = new FormData(form);
      try {
        const s = await emergency.createShelter(api, {
          name: text(f, "name"),
          address: opt(f, "address"),
          lat: Number(f.get("lat")),
          lon: Number(f.get("lon")),
          capacity_beds: Number(f.get("beds")),
          capacity_accessible: Number(f.get("accessible") || 0),
          capacity_pets: Number(f.get("pets") || 0),
          amenities: text(f, "amenities").split(",").map((x) => x.trim()).filter(Boolean),
        });
        form.reset();
        setChosen(s.id);
        setMessage(`${s.name} is open.`);
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  return (
    <div className="two-col">
      <section className="panel grow" aria-labelledby="shelters-title">
        <h2 id="shelters-title">Shelters</h2>
        <ul className="cards" data-testid="shelters">
          {(shelters ?? []).map((s) => (
            <li key={s.id} className={`card shelter shelter-${s.status}${s.id === chosen ? " selected" : ""}`}>
              <button type="button" className="link" onClick={() => setChosen(s.id)}>
                <strong>{s.name}</strong>
              </button>{" "}
              <span className={`status status-${s.status}`}>{s.status}</span>
              <p className="muted small">{s.address ?? `${s.lat.toFixed(4)}, ${s.lon.toFixed(4)}`}</p>
              <Bar used={s.occupied_beds} total={s.capacity_beds} label="Beds" />
              <Bar used={s.occupied_accessible} total={s.capacity_accessible} label="Accessible" />
              <Bar used={s.occupied_pets} total={s.capacity_pets} label="Pets" />
              {s.amenities.length > 0 && <p className="small">{s.amenities.join(" · ")}</p>}
            </li>
          ))}
          {shelters?.length === 0 && <li className="muted">No shelters yet.</li>}
        </ul>
        <CsvTools kind="shelters" onImported={() => void load()} />
        {shelter && <ShelterDetail shelter={shelter} onChanged={() => void load()} />}
        {can("evacuees:read") && <Reunification />}
      </section>
      {can("emergency:write") && (
        <aside className="panel side">
          <h2>Open a shelter</h2>
          <form aria-busy={busy} onSubmit={(e) => void create(e)} className="form" data-testid="shelter-form">
            <label>Name<input name="name" required /></label>
            <label>Address<input name="address" /></label>
            <div className="row2">
              <label>Latitude<input name="lat" type="number" step="any" required defaultValue={60.1841} /></label>
              <label>Longitude<input name="lon" type="number" step="any" required defaultValue={24.9497} /></label>
            </div>
            <div className="row2">
              <label>Beds<input name="beds" type="number" min={0} required defaultValue={50} /></label>
              <label>Accessible beds<input name="accessible" type="number" min={0} defaultValue={4} /></label>
            </div>
            <label>Pet places<input name="pets" type="number" min={0} defaultValue={5} /></label>
            <label>Amenities (comma separated)<input name="amenities" placeholder="showers, kitchen, generator" /></label>
            <button disabled={busy} className="primary" type="submit">Open shelter</button>
          </form>
          {message && <p role="status" data-testid="shelter-message">{message}</p>}
        </aside>
      )}
    </div>
  );
}

function ShelterDetail({ shelter, onChanged }: { shelter: ShelterRead; onChanged: () => void }) {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [evacuees, setEvacuees] = useState<EvacueeRead[] | null>(null);
  const [history, setHistory] = useState<OccupancyPoint[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    if (can("evacuees:read")) setEvacuees(await emergency.evacuees(api, shelter.id).catch(() => null));
    setHistory(await emergency.occupancy(api, shelter.id).catch(() => []));
  }, [api, can, shelter.id]);
  useEffect(() => void load(), [load, shelter.updated_at]);

  async function checkIn(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      const f = new FormData(form);
      try {
        const r = await emergency.checkIn(api, shelter.id, {
          name: text(f, "name"),
          family: opt(f, "family"),
          birth_year: f.get("birth_year") ? Number(f.get("birth_year")) : null,
          needs: opt(f, "needs"),
          accessible: f.get("accessible") === "on",
          pets: Number(f.get("pets") || 0),
        });
        form.reset();
        setMessage(`${r.evacuee.name} checked in.`);
        onChanged();
        void load();
      } catch (err) {
        setMessage(`Not checked in: ${problemText(err)}`);
      }
    });
  }

  async function setStatus(status: string) {
    await run(async (api) => {
      try {
        await emergency.updateShelter(api, shelter.id, { status });
        onChanged();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  async function checkOut(evacueeId: string) {
    await run(async (api) => {
      try {
        await emergency.checkOut(api, evacueeId);
        onChanged();
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  return (
    <section className="card detail" aria-labelledby="shelter-detail" data-testid="shelter-detail">
      <h3 id="shelter-detail">{shelter.name}</h3>
      {can("emergency:write") && (
        <div className="actions">
          {shelter.status !== "closed" ? (
            <button disabled={busy} type="button" className="danger" onClick={() => void setStatus("closed")}>Close shelter</button>
          ) : (
            <button disabled={busy} type="button" onClick={() => void setStatus("open")}>Reopen shelter</button>
          )}
        </div>
      )}
      {can("emergency:write") && shelter.status !== "closed" && (
        <form aria-busy={busy} onSubmit={(e) => void checkIn(e)} className="form grid3" data-testid="checkin-form">
          <label>Name<input name="name" required /></label>
          <label>Household<input name="family" /></label>
          <label>Birth year<input name="birth_year" type="number" min={1900} max={2100} /></label>
          <label>Care needs<input name="needs" /></label>
          <label>Pets<input name="pets" type="number" min={0} max={20} defaultValue={0} /></label>
          <label className="check"><input type="checkbox" name="accessible" />Accessible bed</label>
          <button disabled={busy} className="primary" type="submit">Check in</button>
        </form>
      )}
      {message && <p role="status" data-testid="checkin-message">{message}</p>}
      {evacuees && (
        <table className="table" data-testid="evacuees">
          <thead><tr><th>Name</th><th>Household</th><th>Needs</th><th>Bed</th><th>Pets</th><th>Since</th><th /></tr></thead>
          <tbody>
            {evacuees.map((v) => (
              <tr key={v.id}>
                <td>{v.name}</td><td>{v.family ?? "—"}</td><td>{v.needs ?? "—"}</td>
                <td>{v.accessible ? "accessible" : "standard"}</td><td>{v.pets}</td>
                <td>{new Date(v.checked_in_at).toLocaleTimeString()}</td>
                <td>
                  {can("emergency:write") && (
                    <button disabled={busy} type="button" onClick={() => void checkOut(v.id)}>
                      Check out
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>Occupancy over time</h4>
      <ol className="small timeline" data-testid="occupancy">
        {history.slice(-12).map((p, n) => (
          <li key={n}>{new Date(p.at).toLocaleTimeString()}: {p.beds + p.accessible} sheltered, {p.pets} pets</li>
        ))}
      </ol>
    </section>
  );
}

function Reunification() {
  const { api } = useApp();
  const [found, setFound] = useState<EvacueeRead[] | null>(null);
  async function search(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const name = text(new FormData(e.currentTarget), "q");
    setFound(name.trim().length >= 2 ? await emergency.findEvacuees(api, name).catch(() => []) : null);
  }
  return (
    <section className="card detail" aria-labelledby="reunify-title">
      <h3 id="reunify-title">Family reunification</h3>
      <form onSubmit={(e) => void search(e)} className="inline">
        <label>
          Name or household (whole words or the first 3+ letters)
          <input name="q" type="search" minLength={2} />
        </label>
        <button type="submit">Find</button>
      </form>
      {found && (
        <ul className="list" data-testid="reunification">
          {found.map((v) => (
            <li key={v.id}>
              {v.name}
              {v.family ? ` (${v.family})` : ""} — {v.shelter_name}, {v.checked_out_at ? "has left" : "present"}
            </li>
          ))}
          {found.length === 0 && <li className="muted">No one found.</li>}
        </ul>
      )}
    </section>
  );
}
