import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import {
  emergency,
  problemText,
  type OnDutyRead,
  type PersonRead,
  type ShiftRead,
  type TeamRead,
  type UnitCrewRead,
  text,
  opt,
} from "../../api/emergency";
import { useApp, useChannel, useResync } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";
import { CsvTools } from "./Emergency";

const QUALS = ["paramedic", "emt", "nurse", "driver", "physician", "firefighter", "pilot", "boat_operator"];

function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Who is on duty now, each ambulance's crew from the roster, the roster, and staff. */
export function Roster() {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [people, setPeople] = useState<PersonRead[]>([]);
  const [duty, setDuty] = useState<OnDutyRead[] | null>(null);
  const [crews, setCrews] = useState<UnitCrewRead[]>([]);
  const [shifts, setShifts] = useState<ShiftRead[]>([]);
  const [teams, setTeams] = useState<TeamRead[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    const now = new Date();
    const [p, d, c, s, t] = await Promise.all([
      emergency.people(api).catch(() => []),
      emergency.onDuty(api).catch(() => null),
      emergency.unitCrews(api).catch(() => []),
      emergency.shifts(api, new Date(now.getTime() - 12 * 3600e3), new Date(now.getTime() + 7 * 86400e3)).catch(() => []),
      emergency.teams(api).catch(() => []),
    ]);
    setTeams(t);
    setPeople(p);
    setDuty(d);
    setCrews(c);
    setShifts(s);
  }, [api]);
  useEffect(() => void load(), [load]);
  useResync(() => void load());
  useChannel("emergency", () => void load());

  async function addPerson(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      const f = new FormData(form);
      const expires = opt(f, "expires");
      try {
        await emergency.createPerson(api, {
          name: text(f, "name"),
          agency: text(f, "agency"),
          username: opt(f, "username"),
          qualifications: QUALS.filter((k) => f.get(`q-${k}`)).map((kind) => ({
            kind: kind as PersonRead["qualifications"][number]["kind"],
            expires_on: kind === "driver" ? null : expires,
          })),
        });
        form.reset();
        setMessage("Person added.");
        void load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  async function addShift(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      try {
        await emergency.addShift(api, text(f, "person"), {
          starts_at: new Date(text(f, "start")).toISOString(),
          ends_at: new Date(text(f, "end")).toISOString(),
          unit_id: opt(f, "unit"),
          position: opt(f, "position"),
        });
        setMessage("Shift added.");
        void load();
      } catch (err) {
        setMessage(`Shift not added: ${problemText(err)}`);
      }
    });
  }

  async function addTeam(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      try {
        await emergency.createTeam(api, text(new FormData(form), "name"));
        form.reset();
        setMessage("Team created.");
        void load();
      } catch (err) {
        setMessage(`Team not created: ${problemText(err)}`);
      }
    });
  }

  async function setTeam(personId: string, teamId: string | null) {
    await run(async (api) => {
      try {
        await emergency.setTeam(api, personId, teamId);
        void load();
      } catch (err) {
        setMessage(`Team not changed: ${problemText(err)}`);
      }
    });
  }

  const now = new Date();
  return (
    <div className="two-col">
      <div className="grow stack">
        <section className="panel" aria-labelledby="duty-title">
          <h2 id="duty-title">On duty now</h2>
          <table className="table" data-testid="on-duty">
            <thead><tr><th>Name</th><th>Agency</th><th>Unit</th><th>Position</th><th>Qualifications</th><th>Until</th></tr></thead>
            <tbody>
              {(duty ?? []).map((d) => (
                <tr key={d.shift_id}>
                  <td>{d.name}</td>
                  <td>{d.agency}</td>
                  <td>{crews.find((c) => c.unit_id === d.unit_id)?.call_sign ?? "—"}</td>
                  <td>{d.position ?? "—"}</td>
                  <td>{d.qualifications.map((q) => (q.valid ? q.kind : `${q.kind} (expired)`)).join(", ")}</td>
                  <td>{new Date(d.ends_at).toLocaleString()}</td>
                </tr>
              ))}
              {duty?.length === 0 && <tr><td colSpan={6} className="muted">Nobody is on shift.</td></tr>}
            </tbody>
          </table>
        </section>
        <section className="panel" aria-labelledby="crews-title">
          <h2 id="crews-title">Ambulance crews from the roster</h2>
          <ul className="list" data-testid="unit-crews">
            {crews.map((c) => (
              <li key={c.unit_id} className="unit">
                <strong>{c.call_sign}</strong> ({c.unit_type}) · {c.crew.length ? c.crew.join(", ") : "no crew on shift"}
                {c.problem ? <span className="warn"> — dispatch excludes it: {c.problem}</span> : c.rostered ? <span className="ok"> — crewed</span> : <span className="muted small"> — not rostered in EMsync</span>}
              </li>
            ))}
          </ul>
        </section>
        <TeamsPanel teams={teams} people={people} canWrite={can("emergency:write")} busy={busy} onCreate={addTeam} onSetTeam={setTeam} />
        <section className="panel" aria-labelledby="roster-title">
          <h2 id="roster-title">Roster (next 7 days)</h2>
          <table className="table" data-testid="roster">
            <thead><tr><th>Person</th><th>From</th><th>To</th><th>Unit</th><th>Position</th></tr></thead>
            <tbody>
              {shifts.map((s) => (
                <tr key={s.id} className={new Date(s.starts_at) <= now && now < new Date(s.ends_at) ? "current" : ""}>
                  <td>{s.person_name}</td>
                  <td>{new Date(s.starts_at).toLocaleString()}</td>
                  <td>{new Date(s.ends_at).toLocaleString()}</td>
                  <td>{crews.find((c) => c.unit_id === s.unit_id)?.call_sign ?? "—"}</td>
                  <td>{s.position ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <CsvTools kind="personnel" onImported={() => void load()} />
        </section>
      </div>
      {can("emergency:write") && (
        <aside className="panel side">
          <h2>Add a shift</h2>
          <form aria-busy={busy} onSubmit={(e) => void addShift(e)} className="form" data-testid="shift-form">
            <label>Person<select name="person" required>{people.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}</select></label>
            <label>Starts<input name="start" type="datetime-local" required defaultValue={localInput(new Date(now.getTime() - 3600e3))} /></label>
            <label>Ends<input name="end" type="datetime-local" required defaultValue={localInput(new Date(now.getTime() + 11 * 3600e3))} /></label>
            <label>Ambulance<select name="unit"><option value="">—</option>{crews.map((c) => <option key={c.unit_id} value={c.unit_id}>{c.call_sign}</option>)}</select></label>
            <label>Position<input name="position" placeholder="driver, medic…" /></label>
            <button disabled={busy} className="primary" type="submit">Add shift</button>
          </form>
          <h2>Add a person</h2>
          <form aria-busy={busy} onSubmit={(e) => void addPerson(e)} className="form" data-testid="person-form">
            <label>Name<input name="name" required /></label>
            <label>Agency<input name="agency" required defaultValue="EMS" /></label>
            <label>EMsync login (optional)<input name="username" /></label>
            <fieldset className="grid3">
              <legend>Qualifications</legend>
              {QUALS.map((k) => <label key={k} className="check"><input type="checkbox" name={`q-${k}`} />{k.replace(/_/g, " ")}</label>)}
            </fieldset>
            <label>Certificates expire on<input name="expires" type="date" /></label>
            <button disabled={busy} className="primary" type="submit">Add person</button>
          </form>
          {message && <p role="status" data-testid="roster-message">{message}</p>}
        </aside>
      )}
    </div>
  );
}

/** Teams with their members; a writer creates teams and moves people in and out. */
function TeamsPanel({ teams, people, canWrite, busy, onCreate, onSetTeam }: {
  teams: TeamRead[];
  people: PersonRead[];
  canWrite: boolean;
  /** A submission of the roster is in flight (useSubmit): its buttons wait for it. */
  busy: boolean;
  onCreate: (e: SyntheticEvent<HTMLFormElement>) => Promise<void>;
  onSetTeam: (personId: string, teamId: string | null) => Promise<void>;
}) {
  return (
    <section className="panel" aria-labelledby="teams-title">
      <h2 id="teams-title">Teams</h2>
      <ul className="list" data-testid="teams">
        {teams.map((t) => {
          const members = people.filter((p) => p.team_id === t.id);
          const others = people.filter((p) => p.team_id !== t.id && p.active);
          return (
            <li key={t.id} data-testid={`team-${t.name}`}>
              <strong>{t.name}</strong> · {members.length} member(s)
              <ul>
                {members.map((m) => (
                  <li key={m.id}>
                    {m.name} <span className="muted small">({m.agency})</span>{" "}
                    {canWrite && (
                      <button disabled={busy} type="button" className="link" onClick={() => void onSetTeam(m.id, null)} aria-label={`Remove ${m.name} from ${t.name}`}>
                        remove
                      </button>
                    )}
                  </li>
                ))}
              </ul>
              {canWrite && others.length > 0 && (
                <select disabled={busy} aria-label={`Add a member to ${t.name}`} value="" onChange={(e) => e.target.value && void onSetTeam(e.target.value, t.id)}>
                  <option value="">Add member…</option>
                  {others.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
                </select>
              )}
            </li>
          );
        })}
        {teams.length === 0 && <li className="muted">No teams yet.</li>}
      </ul>
      {canWrite && (
        <form aria-busy={busy} onSubmit={(e) => void onCreate(e)} className="actions" data-testid="team-form">
          <label>Team name<input name="name" required maxLength={120} /></label>
          <button disabled={busy} type="submit">Create team</button>
        </form>
      )}
    </section>
  );
}
