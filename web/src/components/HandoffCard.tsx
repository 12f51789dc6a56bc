import type { ReactNode } from "react";
import type { MedicationConflict } from "../api/registry";
import type { HandoffRead as Handoff, VitalSigns } from "../api/types";
import { allergiesText, changeText, clock, sourceText, signFields, treatmentText } from "../lib/handoff";
import { AllergyConflicts } from "./AllergyConflicts";
import { BAND_LABEL, parseBand } from "../lib/news2";
import { ago, countdown } from "../lib/time";
import { AttachmentLink } from "./AttachmentLink";

/** The newest vital-sign set first, with its age and each value's trend beside it. */
function CurrentVitals({ handoff, now }: { handoff: Handoff; now: number }) {
  const picture = handoff.picture;
  const latest = picture?.latest_signs;
  if (!latest) return <p className="muted">No vital signs recorded.</p>;
  const score = picture.news2;
  const band = score ? parseBand(score.band) : null;
  return (
    <section className={`current-vitals band-${band ?? "none"}`} aria-label="Current vitals" data-testid="current-vitals">
      <h4>
        Current vitals · {ago(now - Date.parse(latest.ts))} ago · {sourceText(latest)} ({clock(latest.ts)})
      </h4>
      <dl className="vitals-now">
        {signFields(latest).map(([label, value]) => {
          const change = changeText(label, picture.signs, latest);
          return (
            <div key={label}>
              <dt>{label}</dt>
              <dd>
                {value}
                {change && <span className="trend"> {change}</span>}
              </dd>
            </div>
          );
        })}
      </dl>
      {score ? (
        <p className="band-text" data-testid="handoff-news2">
          NEWS2 {score.total} — {band ? BAND_LABEL[band] : "no risk flags"}
          <span className="muted small">
            {" "}
            (set of {clock(score.ts)}, {score.source === "telemetry" ? "monitor" : "crew"}
            {score.carried?.length ? `; from the set before: ${score.carried.join(", ")}` : ""}
            {score.assumed.length ? `; not recorded, scored as normal: ${score.assumed.join(", ")}` : ""})
          </span>
        </p>
      ) : (
        <p className="muted small">NEWS2: no set yet has all of RR, SpO₂, BP, HR and temperature.</p>
      )}
      {handoff.news2 != null && handoff.news2 !== score?.total && (
        <p className="small">NEWS2 as stated by the crew or triage: {handoff.news2}</p>
      )}
    </section>
  );
}

function AllSigns({ signs }: { signs: VitalSigns[] }) {
  if (signs.length < 2) return null;
  return (
    <details className="all-signs">
      <summary>All vital sets ({signs.length})</summary>
      <ul className="list">
        {[...signs].reverse().map((s) => (
          <li key={`${s.ts}-${s.source}`}>
            <strong>{clock(s.ts)}</strong> {sourceText(s)}: {signFields(s).map(([l, v]) => `${l} ${v}`).join(", ")}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

export function HandoffCard({
  handoff: h,
  now,
  actions,
  callSign,
  conflicts,
}: {
  handoff: Handoff;
  now: number;
  actions?: ReactNode;
  /** The unit's radio call sign (the ED knows the ambulance by it, not by its id). */
  callSign?: string | null;
  /** Medications given against a written or recorded allergy (checked by the registry). */
  conflicts?: MedicationConflict[] | null;
}) {
  const eta = h.eta ? Date.parse(h.eta) - now : null;
  const c = h.content;
  const picture = h.picture;
  const p = c?.patient;
  return (
    <li className={`card handoff acuity-${h.acuity ?? "x"}`} data-testid="handoff-card">
      <h3>
        {h.acuity ? `KTAS ${h.acuity}` : "Acuity unknown"} · {h.status.replace(/_/g, " ")}
      </h3>
      {(h.unit_id || h.crew?.length) && (
        <p className="muted small">
          {h.unit_id ? `Unit ${callSign ?? "(not in this hub's register)"}` : ""}
          {h.crew?.length ? `${h.unit_id ? " · " : ""}Crew: ${h.crew.join(", ")}` : ""}
        </p>
      )}
      <p className="eta" aria-label="Estimated arrival">
        {eta === null ? "ETA unknown" : eta >= 0 ? `Arrives in ${countdown(eta)}` : `Overdue by ${countdown(-eta)}`}
      </p>
      {c && picture ? (
        <>
          <AllergyConflicts conflicts={conflicts} />
          <CurrentVitals handoff={h} now={now} />
          <p className={picture.allergies?.length ? "allergies warn" : "allergies"} data-testid="allergies">
            <strong>Allergies:</strong> {allergiesText(picture.allergies)}
          </p>
          <dl className="atmist">
            <Row label="A — Age / sex">
              {[p?.name, p?.age_years != null ? `${p.age_years} y` : p?.age_band ? `age ${p.age_band}` : null, p?.sex]
                .filter(Boolean)
                .join(", ") || "—"}
            </Row>
            <Row label="T — Time of onset">
              {c.onset_unknown ? "unknown" : c.time_of_onset ? clock(c.time_of_onset) : "—"}
            </Row>
            <Row label="M — Mechanism">{c.mechanism ?? "—"}</Row>
            <Row label="I — Injuries / illness">{picture.injuries.length ? picture.injuries.join("; ") : "—"}</Row>
            <Row label="S — Signs">
              {picture.signs.length} set{picture.signs.length === 1 ? "" : "s"}; the newest is above
            </Row>
            <Row label="T — Treatment">
              {picture.treatment == null ? (
                "Not recorded"
              ) : picture.treatment.length === 0 ? (
                "None given"
              ) : (
                <ul className="plain" data-testid="treatments">
                  {picture.treatment.map((t, i) => (
                    <li key={i}>{treatmentText(t)}</li>
                  ))}
                </ul>
              )}
            </Row>
            <Row label="Notes">
              {picture.notes.length === 0 ? (
                "—"
              ) : (
                <ul className="plain" data-testid="notes">
                  {picture.notes.map((n, i) => (
                    <li key={i} className="pre">
                      {n.at ? `${clock(n.at)}: ` : ""}
                      {n.text}
                    </li>
                  ))}
                </ul>
              )}
            </Row>
            {(h.attachments ?? []).length > 0 && (
              <Row label="Photos / ECG">
                <ul className="plain attachments" data-testid="handoff-attachments">
                  {(h.attachments ?? []).map((a) => (
                    <li key={a.id}>
                      <AttachmentLink handoffId={h.id} attachment={a} />
                    </li>
                  ))}
                </ul>
              </Row>
            )}
          </dl>
          <AllSigns signs={picture.signs} />
        </>
      ) : (
        <p className="muted small">{h.sealed ? "Sealed for the receiving hospital's staff." : "No ATMIST yet."}</p>
      )}
      {actions}
    </li>
  );
}
