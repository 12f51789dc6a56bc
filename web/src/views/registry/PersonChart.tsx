import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { opt, problemText, text } from "../../api/emergency";
import {
  registry,
  type AllergyConflict,
  type Chart,
  type EntryRead,
  type MergeRead,
} from "../../api/registry";
import type { IncidentPage, IncidentRead } from "../../api/types";
import { useApp, useChannel } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

function describe(e: EntryRead): string {
  const c = e.content as Record<string, unknown>;
  const parts = [
    c.encounter_class, c.substance, c.condition, c.title, c.display, c.summary, c.reaction,
    c.severity, c.dose, typeof c.incident_id === "string" ? `call ${c.incident_id.slice(0, 8)}` : null,
    c.route, c.frequency, c.code, c.value, c.unit, c.reason, c.facility, c.diagnosis,
    c.treatment, c.note,
  ];
  return parts.filter((p) => p !== null && p !== undefined && p !== "").map(String).join(" · ");
}

function Entries({ title, items, testId }: { title: string; items: EntryRead[]; testId: string }) {
  return (
    <section className="panel" aria-label={title}>
      <h3>{title}</h3>
      <ul data-testid={testId}>
        {items.map((e) => (
          <li key={e.id}>
            <span>{describe(e)}</span>{" "}
            <span className="muted small">
              ({e.status}; {e.source}; {e.recorded_by}; {new Date(e.recorded_at).toLocaleString()})
            </span>
          </li>
        ))}
        {items.length === 0 && <li className="muted">None recorded.</li>}
      </ul>
    </section>
  );
}

/** A person's chart: identity, allergies, medications, problems, a timeline of calls,
 * handoffs, vitals and visits; recording, linking a call's patient, merging. */
export function PersonChart() {
  const { personId = "" } = useParams();
  const { api, can } = useApp();
  const [chart, setChart] = useState<Chart | null>(null);
  const [merges, setMerges] = useState<MergeRead[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setChart(await registry.chart(api, personId));
      setMerges(await registry.merges(api, personId));
    } catch (err) {
      setMessage(problemText(err));
    }
  }, [api, personId]);
  useEffect(() => void load(), [load]);
  useChannel("registry", (msg) => {
    if (JSON.stringify(msg.data).includes(personId)) void load();
  });

  if (chart === null) return <p className="muted">{message ?? "Loading…"}</p>;
  const p = chart.person;
  return (
    <div className="two-col">
      <div className="grow">
        <section className="panel" aria-labelledby="chart-title">
          <h2 id="chart-title" data-testid="chart-name">{p.display_name}</h2>
          {p.merged_into && (
            <p role="alert">
              This record was merged into <Link to={`/persons/${p.merged_into}`}>another person</Link>.
            </p>
          )}
          <dl className="facts" data-testid="identity">
            <dt>Born</dt><dd>{p.birth_date ? `${p.birth_date_estimated ? "~" : ""}${p.birth_date}` : "—"}</dd>
            <dt>Sex / gender</dt><dd>{p.sex ?? "—"}{p.gender ? ` / ${p.gender}` : ""}</dd>
            <dt>Identifiers</dt>
            <dd>{p.identifiers.map((i) => `${i.system}${i.assigner ? ` (${i.assigner})` : ""}: ${i.value}`).join("; ") || "—"}</dd>
            <dt>Phone</dt><dd>{p.phone ?? "—"}</dd>
            <dt>E-mail</dt><dd>{p.email ?? "—"}</dd>
            <dt>Address</dt><dd>{p.address ? [p.address.line, p.address.postcode, p.address.city, p.address.state, p.address.country].filter(Boolean).join(", ") : "—"}</dd>
            <dt>Language</dt><dd>{p.language ?? "—"}</dd>
            <dt>Also known as</dt><dd>{(p.aliases ?? []).join(", ") || "—"}</dd>
            <dt>Emergency contacts</dt>
            <dd>{(p.emergency_contacts ?? []).map((c) => [c.name, c.relation, c.phone].filter(Boolean).join(", ")).join("; ") || "—"}</dd>
            <dt>Insurance</dt>
            <dd>{(p.insurance ?? []).map((i) => [i.payer, i.member_id, i.plan].filter(Boolean).join(", ")).join("; ") || "—"}</dd>
            {p.description && (<><dt>Description</dt><dd>{p.description}</dd></>)}
            <dt>Merged records</dt><dd>{(p.merged_records ?? []).map((m) => m.display_name).join(", ") || "—"}</dd>
          </dl>
        </section>
        <Entries title="Allergies" items={chart.allergies} testId="allergies" />
        <Entries title="Medications" items={chart.medications} testId="medications" />
        <Entries title="Problems" items={chart.problems} testId="problems" />
        <section className="panel" aria-label="Vitals">
          <h3>Ambulance vitals</h3>
          <ul data-testid="vitals">
            {chart.vitals.map((v) => (
              <li key={v.patient_id}>
                <Link to={`/monitor/${v.patient_id}`}>Vitals of the call's patient {v.patient_id.slice(0, 8)}</Link>
                {v.incident_id && <span className="muted small"> (incident {v.incident_id.slice(0, 8)})</span>}
              </li>
            ))}
            {chart.vitals.length === 0 && <li className="muted">No linked call.</li>}
          </ul>
        </section>
        <section className="panel" aria-label="Timeline">
          <h3>Timeline</h3>
          <ol data-testid="timeline">
            {chart.timeline.map((t, i) => (
              <li key={`${t.kind}-${t.ref_id ?? i}`}>
                <span className="muted small">{new Date(t.at).toLocaleString()}</span> {t.title}
              </li>
            ))}
          </ol>
        </section>
        <Entries title="Encounters" items={chart.encounters} testId="encounters" />
        <Entries title="Observations" items={chart.observations} testId="observations" />
        <Entries title="Documents" items={[...chart.documents, ...chart.device_reports]} testId="documents" />
      </div>
      <aside className="panel side">
        {message && <p role="status" data-testid="chart-status">{message}</p>}
        {can("persons:write") && <LinkCall personId={p.id} onDone={(m) => { setMessage(m); void load(); }} />}
        {can("persons:write") && <RecordEntry personId={p.id} onDone={(m) => { setMessage(m); void load(); }} />}
        {can("persons:merge") && (
          <MergeTools personId={p.id} merges={merges} onDone={(m) => { setMessage(m); void load(); }} />
        )}
        <FhirExport personId={p.id} />
      </aside>
    </div>
  );
}

function LinkCall({ personId, onDone }: { personId: string; onDone: (m: string) => void }) {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [incidents, setIncidents] = useState<IncidentPage["items"]>([]);
  const [incident, setIncident] = useState<IncidentRead | null>(null);
  // The chosen call's patients fill the Patient list when the call has loaded; until then the
  // form waits (an empty required list would refuse the submit with a browser tooltip only).
  const [chosen, setChosen] = useState("");
  const loading = chosen !== "" && incident?.id !== chosen;
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    if (!can("incidents:read")) return;
    void api.get<IncidentPage>("/api/incidents?limit=30").then((page) => setIncidents(page.items)).catch(() => undefined);
  }, [api, can]);
  useEffect(() => {
    if (!chosen) return;
    let live = true;
    api.get<IncidentRead>(`/api/incidents/${encodeURIComponent(chosen)}`).then(
      (i) => {
        // A slower answer for a call chosen earlier does not replace the one chosen now.
        if (live) setIncident(i);
      },
      (err: unknown) => {
        if (live) setFailed(problemText(err));
      },
    );
    return () => {
      live = false;
    };
  }, [api, chosen]);

  async function link(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      try {
        await registry.linkPatient(api, personId, text(f, "incident"), text(f, "patient"));
        onDone("The call's patient is linked to this person.");
      } catch (err) {
        onDone(problemText(err));
      }
    });
  }

  return (
    <form aria-busy={busy} onSubmit={(e) => void link(e)} className="form" aria-label="Link a call's patient">
      <h3>Link a call's patient</h3>
      <label>Call
        <select name="incident" required value={chosen} onChange={(e) => {
          setFailed(null);
          setChosen(e.target.value);
        }}>
          <option value="" disabled>Choose a call…</option>
          {incidents.map((i) => (
            <option key={i.id} value={i.id}>#{i.number} {i.chief_complaint}</option>
          ))}
        </select>
      </label>
      {loading && !failed && <p role="status">Loading the call…</p>}
      {failed && <p className="error" role="alert">The call could not be loaded: {failed}</p>}
      <fieldset className="bare" disabled={loading}>
      <label>Patient
        <select name="patient" required>
          {(loading ? [] : (incident?.patients ?? [])).map((pt) => (
            <option key={pt.id} value={pt.id}>
              {pt.label} {pt.name ?? ""} {pt.age_years ?? ""} {pt.sex ?? ""}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>Link patient</button>
      </fieldset>
    </form>
  );
}

function RecordEntry({ personId, onDone }: { personId: string; onDone: (m: string) => void }) {
  const { api } = useApp();
  const { busy, run } = useSubmit();
  const [kind, setKind] = useState("allergy");
  const [conflicts, setConflicts] = useState<AllergyConflict[]>([]);

  async function check(substance: string) {
    if (kind !== "medication" || !substance.trim()) return setConflicts([]);
    const res = await registry.checkMedication(api, personId, substance).catch(() => null);
    setConflicts(res?.conflicts ?? []);
  }

  async function record(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      const form = e.currentTarget;
      const name = text(f, "name").trim();
      const base = { kind, source: text(f, "source"), note: opt(f, "note") };
      const body: Record<string, unknown> =
        kind === "allergy" ? { ...base, substance: name, reaction: opt(f, "detail"), severity: opt(f, "severity") }
        : kind === "medication" ? { ...base, substance: name, dose: opt(f, "detail"), override_reason: opt(f, "override") }
        : kind === "problem" ? { ...base, condition: name }
        : { ...base, encounter_class: "emergency", reason: name, facility: opt(f, "detail") };
      try {
        const res = await registry.record(api, personId, body);
        form.reset();
        setConflicts([]);
        const n = res.conflicts?.length ?? 0;
        onDone(n ? `Recorded despite ${n} allergy conflict(s).` : "Recorded.");
      } catch (err) {
        onDone(problemText(err));
      }
    });
  }

  return (
    <form aria-busy={busy} onSubmit={(e) => void record(e)} className="form" aria-label="Record on the chart">
      <h3>Record</h3>
      <label>Kind
        <select name="kind" value={kind} onChange={(e) => { setKind(e.target.value); setConflicts([]); }}>
          <option value="allergy">allergy</option><option value="medication">medication</option>
          <option value="problem">problem</option><option value="encounter">hospital visit</option>
        </select>
      </label>
      <label>{kind === "problem" ? "Condition" : kind === "encounter" ? "Reason" : "Substance"}
        <input name="name" required onBlur={(e) => void check(e.target.value)} />
      </label>
      <label>{kind === "allergy" ? "Reaction" : kind === "medication" ? "Dose" : "Facility"}<input name="detail" /></label>
      {kind === "allergy" && (
        <label>Severity<select name="severity" defaultValue="">
          <option value="">—</option><option value="mild">mild</option>
          <option value="moderate">moderate</option><option value="severe">severe</option>
        </select></label>
      )}
      <label>Source<select name="source" defaultValue="clinician">
        {["clinician", "crew", "monitor", "hospital", "import"].map((s) => <option key={s} value={s}>{s}</option>)}
      </select></label>
      <label>Note<input name="note" /></label>
      {conflicts.length > 0 && (
        <div role="alert" className="conflict" data-testid="allergy-conflict">
          <strong>Allergy conflict:</strong>
          <ul>
            {conflicts.map((c) => (
              <li key={c.allergy_id}>
                {c.medication_substance} — recorded allergy to {c.allergy_substance}
                {c.drug_class ? ` (same class: ${c.drug_class})` : " (same substance)"}
                {c.severity ? `, ${c.severity}` : ""}
              </li>
            ))}
          </ul>
          <label>Reason to give it anyway<input name="override" /></label>
        </div>
      )}
      <button type="submit" disabled={busy}>Record</button>
    </form>
  );
}

function MergeTools({ personId, merges, onDone }: { personId: string; merges: MergeRead[]; onDone: (m: string) => void }) {
  const { busy, run } = useSubmit();
  async function merge(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      try {
        await registry.merge(api, personId, text(f, "merged").trim(), text(f, "reason"));
        onDone("Merged into this person.");
      } catch (err) {
        onDone(problemText(err));
      }
    });
  }
  async function undo(m: MergeRead) {
    await run(async (api) => {
      try {
        await registry.unmerge(api, m.id, "undone from the chart");
        onDone("Merge undone: both persons are restored.");
      } catch (err) {
        onDone(problemText(err));
      }
    });
  }
  return (
    <div>
      <form aria-busy={busy} onSubmit={(e) => void merge(e)} className="form" aria-label="Merge a record into this person">
        <h3>Merge a duplicate into this person</h3>
        <label>Person id of the duplicate<input name="merged" required /></label>
        <label>Reason<input name="reason" required /></label>
        <button type="submit" disabled={busy}>Merge</button>
      </form>
      <h3>Merges</h3>
      <ul data-testid="merges">
        {merges.map((m) => (
          <li key={m.id}>
            {m.method} merge of {m.merged_id.slice(0, 8)} into {m.survivor_id.slice(0, 8)} by {m.merged_by}
            {m.unmerged_at ? ` — undone by ${m.unmerged_by ?? ""}` : (
              <> <button disabled={busy} type="button" onClick={() => void undo(m)}>Unmerge</button></>
            )}
          </li>
        ))}
        {merges.length === 0 && <li className="muted">None.</li>}
      </ul>
    </div>
  );
}

function FhirExport({ personId }: { personId: string }) {
  const { api } = useApp();
  const [size, setSize] = useState<number | null>(null);
  async function download() {
    const bundle = await registry.exportFhir(api, personId);
    const blob = new Blob([JSON.stringify(bundle, null, 2)], { type: "application/fhir+json" });
    setSize(blob.size);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `person-${personId}.fhir.json`;
    a.click();
    URL.revokeObjectURL(a.href);
  }
  return (
    <p>
      <button type="button" onClick={() => void download()}>Export FHIR Bundle</button>
      {size !== null && <span className="muted small"> {size} bytes</span>}
    </p>
  );
}
