/* People and roles: who can log in, with which role, for which hospital; create, change a role,
 * disable or re-enable an account (its sessions end at once, server-side). */
import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { endpoints } from "../../api/endpoints";
import type { HospitalRead, UnitRead, UserRead } from "../../api/types";
import { useApp } from "../../app/context";
import { Field, Status, useSubmit, when } from "./common";

export const ROLES = ["dispatcher", "paramedic", "crew", "clinician", "hospital_coordinator", "emergency_manager", "auditor", "admin"] as const;
const label = (role: string) => role.replace(/_/g, " ");
// The roles that work on an ambulance: their account names the unit the crew view acts for.
const CREW_ROLES = new Set(["crew", "paramedic"]);

export function People() {
  const { api, can, me } = useApp();
  const [users, setUsers] = useState<UserRead[]>([]);
  // null until first loaded: the new-person form waits for them (its hospital and unit lists).
  const [hospitals, setHospitals] = useState<HospitalRead[] | null>(null);
  const [units, setUnits] = useState<UnitRead[] | null>(null);
  const reload = useCallback(() => {
    api.get<UserRead[]>("/api/users").then(setUsers, () => undefined);
    // A list that cannot be read leaves its choice empty ("—") rather than the form closed.
    endpoints.hospitals(api).then(setHospitals, () => setHospitals((h) => h ?? []));
    endpoints.units(api).then(setUnits, () => setUnits((u) => u ?? []));
  }, [api]);
  useEffect(reload, [reload]);
  const { message, run, busy } = useSubmit(reload);
  const writable = can("users:write");
  const hospitalName = (id: string | null) => (id ? (hospitals?.find((h) => h.id === id)?.name ?? "hospital") : "—");
  const callSign = (id: string | null | undefined) => (id ? (units?.find((u) => u.id === id)?.call_sign ?? "unit") : "—");

  return (
    <div className="admin-split">
      <section className="panel" aria-labelledby="people-title">
        <h2 id="people-title">People ({users.length})</h2>
        <table className="table" data-testid="admin-users">
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">Hospital</th>
              <th scope="col">Unit (crews)</th>
              <th scope="col">Status</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-testid={`user-${u.username}`}>
                <td>
                  <strong>{u.username}</strong>
                  {me?.id === u.id ? " (you)" : ""}
                </td>
                <td>
                  {writable && me?.id !== u.id ? (
                    <select
                      disabled={busy}
                      aria-label={`Role of ${u.username}`}
                      value={u.role}
                      onChange={(e) => void run((api) => api.patch(`/api/users/${encodeURIComponent(u.id)}`, { role: e.target.value }), `${u.username} is now ${label(e.target.value)}; their sessions ended.`)}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {label(r)}
                        </option>
                      ))}
                    </select>
                  ) : (
                    label(u.role)
                  )}
                </td>
                <td>{hospitalName(u.hospital_id)}</td>
                <td>
                  {writable && CREW_ROLES.has(u.role) ? (
                    <select
                      aria-label={`Unit of ${u.username}`}
                      value={u.unit_id ?? ""}
                      disabled={busy || units === null}
                      onChange={(e) => void run((api) => api.patch(`/api/users/${encodeURIComponent(u.id)}`, { unit_id: e.target.value || null }), `${u.username} now crews ${e.target.value ? callSign(e.target.value) : "no unit"}; their sessions ended.`)}
                    >
                      <option value="">— no unit —</option>
                      {(units ?? []).map((unit) => (
                        <option key={unit.id} value={unit.id}>
                          {unit.call_sign}
                        </option>
                      ))}
                    </select>
                  ) : (
                    callSign(u.unit_id)
                  )}
                </td>
                <td>
                  {u.active ? "active" : <span className="warn">disabled</span>}{" "}
                  {writable && me?.id !== u.id && (
                    <button disabled={busy}
                      type="button"
                      aria-label={`${u.active ? "Disable" : "Enable"} ${u.username}`}
                      onClick={() => void run((api) => api.patch(`/api/users/${encodeURIComponent(u.id)}`, { active: !u.active }), u.active ? `${u.username} is disabled; their sessions ended.` : `${u.username} can log in again.`)}
                    >
                      {u.active ? "Disable" : "Enable"}
                    </button>
                  )}
                </td>
                <td className="small">{when(u.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <Status message={message} />
      </section>
      {writable && <UserForm hospitals={hospitals} units={units} onCreated={reload} />}
    </div>
  );
}

function UserForm({ hospitals, units, onCreated }: { hospitals: HospitalRead[] | null; units: UnitRead[] | null; onCreated: () => void }) {
  const blank = { username: "", password: "", role: "clinician", hospital_id: "", unit_id: "" };
  const [form, setForm] = useState(blank);
  const { message, errors, run, busy } = useSubmit(onCreated);
  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    const body = { ...form, hospital_id: form.hospital_id || null, unit_id: CREW_ROLES.has(form.role) ? form.unit_id || null : null };
    if (await run((api) => api.post("/api/users", body), `${form.username} can log in now.`)) setForm(blank);
  }
  const ready = hospitals !== null && units !== null;
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  return (
    <form aria-busy={busy} className="form card" aria-labelledby="new-person" onSubmit={(e) => void submit(e)}>
      <h2 id="new-person">New person</h2>
      {/* A person created before the hospitals had loaded could not be given theirs. */}
      {!ready && <p role="status">Loading the hospitals and units…</p>}
      <fieldset className="bare" disabled={!ready}>
      <Field label="Username" error={errors.username}>
        <input name="user-name" required autoComplete="off" value={form.username} onChange={set("username")} />
      </Field>
      <Field label="Initial password" error={errors.password}>
        <input name="user-password" type="password" required autoComplete="new-password" value={form.password} onChange={set("password")} />
      </Field>
      <div className="row2">
        <Field label="Role" error={errors.role}>
          <select name="user-role" value={form.role} onChange={set("role")}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {label(r)}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Hospital (hospital staff)" error={errors.hospital_id}>
          <select name="user-hospital" value={form.hospital_id} onChange={set("hospital_id")}>
            <option value="">—</option>
            {(hospitals ?? []).map((h) => (
              <option key={h.id} value={h.id}>
                {h.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {CREW_ROLES.has(form.role) && (
        <Field label="Unit (the ambulance this crew member works on)" error={errors.unit_id}>
          <select name="user-unit" value={form.unit_id} onChange={set("unit_id")}>
            <option value="">—</option>
            {(units ?? []).map((u) => (
              <option key={u.id} value={u.id}>
                {u.call_sign}
              </option>
            ))}
          </select>
        </Field>
      )}
      <button type="submit" disabled={busy} className="primary">
        Create account
      </button>
      </fieldset>
      <Status message={message} />
    </form>
  );
}
