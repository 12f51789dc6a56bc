import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { ApiError } from "../api/client";
import type {
  DirectoryRead,
  PolicyCreate,
  PolicyRead,
  PreviewRead,
  ScheduleRead,
  StepIn,
  OnCallTeamRead,
  TemplateRead,
} from "../api/types";
import { useApp } from "../app/context";
import { useSubmit } from "../app/useSubmit";

const TRIGGERS = [
  ["telemetry.alert.news2", "NEWS2 deterioration"],
  ["telemetry.alert.stale", "Monitor silent"],
  ["handoffs.ack_overdue", "Handoff not acknowledged"],
] as const;
const STEP_CHANNELS = ["push", "sms", "email", "webhook", "in_app"] as const;
const ROLES = ["clinician", "hospital_coordinator", "dispatcher", "paramedic", "emergency_manager", "admin"];

function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Teams, on-call schedules with rotations, handovers and overrides, and escalation policies. */
export function OnCall() {
  const { api, can } = useApp();
  const removal = useSubmit();
  const manage = can("oncall:manage");
  const [teams, setTeams] = useState<OnCallTeamRead[]>([]);
  const [schedules, setSchedules] = useState<ScheduleRead[]>([]);
  const [policies, setPolicies] = useState<PolicyRead[]>([]);
  const [people, setPeople] = useState<DirectoryRead[]>([]);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [t, s, p, d] = await Promise.all([
      api.get<OnCallTeamRead[]>("/api/notifications/teams").catch(() => []),
      api.get<ScheduleRead[]>("/api/notifications/schedules").catch(() => []),
      api.get<PolicyRead[]>("/api/notifications/policies").catch(() => []),
      api.get<DirectoryRead[]>("/api/notifications/directory").catch(() => []),
    ]);
    setTeams(t);
    setSchedules(s);
    setPolicies(p);
    setPeople(d);
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  async function run(action: () => Promise<unknown>, done: string) {
    setMessage(null);
    try {
      await action();
      setMessage(done);
      void load();
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : "The change was not saved");
    }
  }

  return (
    <div className="oncall">
      {message && (
        <p role="status" className="note">
          {message}
        </p>
      )}
      <section className="panel" aria-labelledby="schedules-title">
        <h2 id="schedules-title">On-call schedules</h2>
        <ul className="list" data-testid="schedules">
          {schedules.map((s) => (
            <li key={s.id} className="card">
              <div className="tile-head">
                <strong>
                  {teams.find((t) => t.id === s.team_id)?.name ?? "?"} — {s.name}
                </strong>
                <span className="muted small">
                  {s.shift_hours} h shifts · rotation {s.member_names.join(" → ")}
                </span>
              </div>
              <p>
                On call now: <strong>{s.on_call?.username ?? "nobody"}</strong>
                {s.on_call ? ` until ${new Date(s.on_call.ends_at).toLocaleString()}` : ""}
              </p>
              <p className="small">
                Handovers:{" "}
                {s.upcoming.map((u) => `${new Date(u.starts_at).toLocaleString()} ${u.username}${u.override ? " (override)" : ""}`).join(" · ")}
              </p>
              {s.overrides.length > 0 && (
                <ul className="small">
                  {s.overrides.map((o) => (
                    <li key={o.id}>
                      Override: {o.username} {new Date(o.starts_at).toLocaleString()} – {new Date(o.ends_at).toLocaleString()} {o.reason}
                      {manage && (
                        <button type="button" disabled={removal.busy} onClick={() => void removal.run((api) => run(() => api.request("DELETE", `/api/notifications/schedules/${s.id}/overrides/${o.id}`), "Override removed"))}>
                          Remove
                        </button>
                      )}
                    </li>
                  ))}
                </ul>
              )}
              {manage && <OverrideForm schedule={s} people={people} onSave={run} />}
            </li>
          ))}
        </ul>
        {manage && <ScheduleForm teams={teams} people={people} onSave={run} />}
      </section>
      <section className="panel" aria-labelledby="policies-title">
        <h2 id="policies-title">Escalation policies</h2>
        <p className="small muted">A trigger with no policy follows the default: clinicians, then the coordinators after 5 min, then admins.</p>
        <ul className="list" data-testid="policies">
          {policies.map((p) => (
            <li key={p.id} className="card">
              <strong>{p.name}</strong> <span className="muted small">{(p.triggers ?? []).join(", ")}</span>
              <ol>
                {p.steps.map((st, i) => (
                  <li key={i}>
                    after {st.delay_seconds} s: {st.channels.join(" + ")} to{" "}
                    {st.targets
                      .map((t) =>
                        t.kind === "schedule"
                          ? `on call in ${schedules.find((s) => s.id === t.ref)?.name ?? t.ref}`
                          : t.kind === "user"
                            ? (people.find((u) => u.id === t.ref)?.username ?? t.ref)
                            : `role ${t.ref}`,
                      )
                      .join(", ")}
                  </li>
                ))}
              </ol>
              {manage && (
                <button type="button" className="danger" disabled={removal.busy} onClick={() => void removal.run((api) => run(() => api.request("DELETE", `/api/notifications/policies/${p.id}`), "Policy deleted"))}>
                  Delete
                </button>
              )}
            </li>
          ))}
        </ul>
        {manage && <PolicyForm schedules={schedules} people={people} onSave={run} />}
      </section>
      {manage && (
        <section className="panel" aria-labelledby="teams-title">
          <h2 id="teams-title">Teams</h2>
          <p className="small">{teams.map((t) => `${t.name} (${t.kind.replace(/_/g, " ")})`).join(" · ") || "No teams yet."}</p>
          <TeamForm onSave={run} />
        </section>
      )}
      <TemplatePreview />
    </div>
  );
}

type Save = (action: () => Promise<unknown>, done: string) => Promise<void>;

function TeamForm({ onSave }: { onSave: Save }) {
  const { busy, run } = useSubmit();
  const [name, setName] = useState("");
  const [kind, setKind] = useState("ed");
  return (
    <form
      className="form row2"
      aria-label="New team"
      aria-busy={busy}
      onSubmit={(e) => {
        e.preventDefault();
        void run((api) => onSave(() => api.post("/api/notifications/teams", { name, kind }), "Team created")).then(() => setName(""));
      }}
    >
      <label>
        Team name
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        Kind
        <select value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="ed">Emergency department</option>
          <option value="clinician_group">Clinician group</option>
          <option value="dispatch_centre">Dispatch centre</option>
          <option value="coordination">Coordination</option>
          <option value="other">Other</option>
        </select>
      </label>
      <button type="submit" disabled={busy}>Create team</button>
    </form>
  );
}

function ScheduleForm({ teams, people, onSave }: { teams: OnCallTeamRead[]; people: DirectoryRead[]; onSave: Save }) {
  const { busy, run } = useSubmit();
  const [team, setTeam] = useState("");
  const [name, setName] = useState("");
  const [start, setStart] = useState(() => localInput(new Date(new Date().setHours(8, 0, 0, 0))));
  const [hours, setHours] = useState(12);
  const [members, setMembers] = useState<string[]>([]);
  function submit(e: SyntheticEvent) {
    e.preventDefault();
    void run((api) => onSave(
      () =>
        api.post("/api/notifications/schedules", {
          team_id: team,
          name,
          rotation_start: new Date(start).toISOString(),
          shift_hours: hours,
          members,
        }),
      "Schedule created",
    ));
  }
  return (
    <form className="form card" aria-label="New schedule" aria-busy={busy} onSubmit={submit}>
      <h3>New schedule</h3>
      <div className="row2">
        <label>
          Team
          <select value={team} onChange={(e) => setTeam(e.target.value)} required>
            <option value="">— choose —</option>
            {teams.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          First handover
          <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} required />
        </label>
        <label>
          Shift length (hours)
          <input type="number" min={1} max={336} value={hours} onChange={(e) => setHours(Number(e.target.value))} />
        </label>
      </div>
      <label>
        Rotation (in order; hold Ctrl to pick several)
        <select multiple value={members} onChange={(e) => setMembers(Array.from(e.target.selectedOptions, (o) => o.value))} size={Math.min(6, Math.max(2, people.length))}>
          {people.map((p) => (
            <option key={p.id} value={p.id}>
              {p.username} ({p.role.replace(/_/g, " ")})
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary" disabled={busy}>
        Create schedule
      </button>
    </form>
  );
}

function OverrideForm({ schedule, people, onSave }: { schedule: ScheduleRead; people: DirectoryRead[]; onSave: Save }) {
  const { busy, run } = useSubmit();
  const [user, setUser] = useState("");
  const [from, setFrom] = useState(() => localInput(new Date()));
  const [to, setTo] = useState(() => localInput(new Date(Date.now() + 4 * 3600_000)));
  const [reason, setReason] = useState("");
  return (
    <form
      className="form"
      aria-label={`Override ${schedule.name}`}
      aria-busy={busy}
      onSubmit={(e) => {
        e.preventDefault();
        void run((api) => onSave(
          () =>
            api.post(`/api/notifications/schedules/${schedule.id}/overrides`, {
              user_id: user,
              starts_at: new Date(from).toISOString(),
              ends_at: new Date(to).toISOString(),
              reason,
            }),
          "Override added",
        ));
      }}
    >
      <details>
        <summary>Add an override (swap, sickness)</summary>
        <div className="row2">
          <label>
            Covering
            <select value={user} onChange={(e) => setUser(e.target.value)} required>
              <option value="">— choose —</option>
              {people.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.username}
                </option>
              ))}
            </select>
          </label>
          <label>
            Reason
            <input value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <label>
            From
            <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            Until
            <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
        </div>
        <button type="submit" disabled={busy}>Add override</button>
      </details>
    </form>
  );
}

const emptyStep = (): StepIn => ({ delay_seconds: 0, channels: ["push", "in_app"], targets: [{ kind: "schedule", ref: "" }] });

function PolicyForm({ schedules, people, onSave }: { schedules: ScheduleRead[]; people: DirectoryRead[]; onSave: Save }) {
  const { busy, run } = useSubmit();
  const [draft, setDraft] = useState<PolicyCreate>({ name: "", triggers: [], steps: [emptyStep()], repeat: 0, repeat_after_seconds: 300 });
  const setStep = (i: number, step: StepIn) => setDraft({ ...draft, steps: draft.steps.map((s, j) => (i === j ? step : s)) });
  return (
    <form
      className="form card"
      aria-label="New escalation policy"
      aria-busy={busy}
      onSubmit={(e) => {
        e.preventDefault();
        void run((api) => onSave(() => api.post("/api/notifications/policies", draft), "Policy saved"));
      }}
    >
      <h3>New escalation policy</h3>
      <label>
        Name
        <input value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} required />
      </label>
      <fieldset className="recs">
        <legend>Used for</legend>
        {TRIGGERS.map(([value, label]) => (
          <label key={value} className="check">
            <input
              type="checkbox"
              checked={draft.triggers?.includes(value) ?? false}
              onChange={(e) =>
                setDraft({
                  ...draft,
                  triggers: e.target.checked ? [...(draft.triggers ?? []), value] : (draft.triggers ?? []).filter((t) => t !== value),
                })
              }
            />
            {label}
          </label>
        ))}
      </fieldset>
      {draft.steps.map((step, i) => (
        <fieldset key={i} className="card step">
          <legend>Step {i + 1}</legend>
          <div className="row2">
            <label>
              {i === 0 ? "Seconds after the alert" : "Seconds after the previous step, unacknowledged"}
              <input type="number" min={0} max={86400} value={step.delay_seconds} onChange={(e) => setStep(i, { ...step, delay_seconds: Number(e.target.value) })} />
            </label>
            <label>
              Notify
              <select
                value={`${step.targets[0]?.kind ?? "schedule"}:${step.targets[0]?.ref ?? ""}`}
                onChange={(e) => {
                  const [kind, ...rest] = e.target.value.split(":");
                  setStep(i, { ...step, targets: [{ kind: kind as "schedule" | "user" | "role", ref: rest.join(":") }] });
                }}
              >
                <option value="schedule:">— choose —</option>
                {schedules.map((s) => (
                  <option key={s.id} value={`schedule:${s.id}`}>
                    on call: {s.name}
                  </option>
                ))}
                {ROLES.map((r) => (
                  <option key={r} value={`role:${r}`}>
                    everyone with role {r.replace(/_/g, " ")}
                  </option>
                ))}
                {people.map((p) => (
                  <option key={p.id} value={`user:${p.id}`}>
                    {p.username}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="actions">
            {STEP_CHANNELS.map((c) => (
              <label key={c} className="check">
                <input
                  type="checkbox"
                  checked={step.channels.includes(c)}
                  onChange={(e) => setStep(i, { ...step, channels: e.target.checked ? [...step.channels, c] : step.channels.filter((x) => x !== c) })}
                />
                {c}
              </label>
            ))}
          </div>
        </fieldset>
      ))}
      <div className="actions">
        <button type="button" onClick={() => setDraft({ ...draft, steps: [...draft.steps, { ...emptyStep(), delay_seconds: 300, channels: ["sms"] }] })}>
          Add a step
        </button>
        {draft.steps.length > 1 && (
          <button type="button" onClick={() => setDraft({ ...draft, steps: draft.steps.slice(0, -1) })}>
            Remove the last step
          </button>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Save policy
        </button>
      </div>
    </form>
  );
}

function TemplatePreview() {
  const { api } = useApp();
  const [templates, setTemplates] = useState<TemplateRead[]>([]);
  const [name, setName] = useState("clinical_alert");
  const [language, setLanguage] = useState("en");
  const [channel, setChannel] = useState("sms");
  const [preview, setPreview] = useState<PreviewRead | null>(null);
  useEffect(() => {
    void api.get<TemplateRead[]>("/api/notifications/templates").then(setTemplates, () => undefined);
  }, [api]);
  useEffect(() => {
    void api.post<PreviewRead>(`/api/notifications/templates/${name}/preview`, { language, channel }).then(setPreview, () => setPreview(null));
  }, [api, name, language, channel]);
  return (
    <section className="panel" aria-labelledby="templates-title">
      <h2 id="templates-title">Message templates</h2>
      <div className="grid3">
        <label>
          Template
          <select value={name} onChange={(e) => setName(e.target.value)}>
            {templates.map((t) => (
              <option key={t.name} value={t.name}>
                {t.description}
              </option>
            ))}
          </select>
        </label>
        <label>
          Language
          <select value={language} onChange={(e) => setLanguage(e.target.value)}>
            <option value="en">English</option>
            <option value="fi">Suomi</option>
          </select>
        </label>
        <label>
          Channel
          <select value={channel} onChange={(e) => setChannel(e.target.value)}>
            {STEP_CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </div>
      {preview && (
        <div className="card" data-testid="preview">
          <strong>{preview.subject}</strong>
          <p>{preview.text}</p>
          <p className="small muted">{preview.detailed ? "This channel gets the detailed text." : "This channel gets the minimal text: no patient details, a link to the dashboard."}</p>
        </div>
      )}
    </section>
  );
}
