import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api/client";
import { endpoints, itemsOf, type Handoff, type Hospital as HospitalT } from "../api/pending";
import { useApp, useChannel, useNow, useResync } from "../app/context";
import { countdown } from "../lib/time";

const NEXT_ACTIONS: Record<string, { action: "acknowledge" | "arrived" | "handed-over"; label: string }[]> = {
  sent: [{ action: "acknowledge", label: "Acknowledge" }],
  delivered: [{ action: "acknowledge", label: "Acknowledge" }],
  acknowledged: [{ action: "arrived", label: "Patient arrived" }],
  arrived: [{ action: "handed-over", label: "Handed over" }],
};

const ATMIST_LABELS = [
  ["age", "A — Age"],
  ["time", "T — Time of incident"],
  ["mechanism", "M — Mechanism"],
  ["injuries", "I — Injuries / illness"],
  ["signs", "S — Signs (vitals)"],
  ["treatment", "T — Treatment"],
] as const;

export function Hospital() {
  const { api, me, can } = useApp();
  const now = useNow(1000);
  const [hospitals, setHospitals] = useState<HospitalT[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const hospitalId = me?.hospital_id ?? chosen;
  const [handoffs, setHandoffs] = useState<Handoff[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const loadHospitals = useCallback(async () => {
    const h = await endpoints.hospitals(api).catch(() => null);
    setHospitals(h === null ? null : itemsOf(h));
  }, [api]);
  const loadHandoffs = useCallback(async () => {
    const h = await endpoints.handoffs(api, hospitalId).catch(() => null);
    setHandoffs(h === null ? null : itemsOf(h));
  }, [api, hospitalId]);
  useEffect(() => {
    void loadHospitals();
  }, [loadHospitals]);
  useEffect(() => {
    void loadHandoffs();
  }, [loadHandoffs]);
  useResync(() => {
    void loadHospitals();
    void loadHandoffs();
  });
  useChannel(hospitalId ? `handoffs:${hospitalId}` : null, () => void loadHandoffs());
  useChannel("hospitals", () => void loadHospitals());

  const hospital = hospitals?.find((h) => h.id === hospitalId) ?? null;

  async function act(id: string, action: "acknowledge" | "arrived" | "handed-over") {
    setMessage(null);
    try {
      await endpoints.handoffAction(api, id, action);
      void loadHandoffs();
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : "Action failed");
    }
  }

  return (
    <div className="hospital">
      <section className="panel grow" aria-labelledby="incoming-title">
        <h2 id="incoming-title">Incoming patients{hospital ? ` — ${hospital.name}` : ""}</h2>
        {!me?.hospital_id && hospitals && hospitals.length > 0 && (
          <label>
            Hospital
            <select value={chosen ?? ""} onChange={(e) => setChosen(e.target.value || null)}>
              <option value="">— choose —</option>
              {hospitals.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.name}
                </option>
              ))}
            </select>
          </label>
        )}
        {message && <p role="alert" className="error">{message}</p>}
        {handoffs === null ? (
          <p className="muted" data-testid="handoffs-missing">
            Handoffs are not available from this server yet (handoffs API pending).
          </p>
        ) : (
          <ul className="cards" data-testid="handoffs">
            {handoffs.map((h) => {
              const eta = h.eta ? Date.parse(h.eta) - now : null;
              return (
                <li key={h.id} className={`card handoff acuity-${h.acuity ?? "x"}`}>
                  <h3>
                    {h.acuity ? `KTAS ${h.acuity}` : "Acuity unknown"} · {h.status.replace(/[_-]/g, " ")}
                  </h3>
                  <p className="eta" aria-label="Estimated arrival">
                    {eta === null ? "ETA unknown" : eta >= 0 ? `Arrives in ${countdown(eta)}` : `Overdue by ${countdown(-eta)}`}
                  </p>
                  <dl className="atmist">
                    {ATMIST_LABELS.map(([k, label]) => (
                      <div key={k}>
                        <dt>{label}</dt>
                        <dd>{h.atmist?.[k] ?? "—"}</dd>
                      </div>
                    ))}
                  </dl>
                  {can("handoffs:receive") && (
                    <div className="actions">
                      {(NEXT_ACTIONS[h.status] ?? []).map((a) => (
                        <button key={a.action} type="button" className="primary" onClick={() => void act(h.id, a.action)}>
                          {a.label}
                        </button>
                      ))}
                    </div>
                  )}
                </li>
              );
            })}
            {handoffs.length === 0 && <li className="muted">No incoming handoffs.</li>}
          </ul>
        )}
      </section>
      <aside className="panel" aria-labelledby="capacity-title">
        <h2 id="capacity-title">Capacity</h2>
        {hospital ? (
          <Capacity hospital={hospital} onSaved={() => void loadHospitals()} />
        ) : (
          <p className="muted" data-testid="capacity-missing">
            {hospitals === null
              ? "Hospitals are not available from this server yet (hospitals API pending)."
              : "Choose a hospital."}
          </p>
        )}
      </aside>
    </div>
  );
}

function Capacity({ hospital, onSaved }: { hospital: HospitalT; onSaved: () => void }) {
  const { api, can } = useApp();
  const [beds, setBeds] = useState(String(hospital.ed_beds_available ?? ""));
  const [message, setMessage] = useState<string | null>(null);
  const editable = can("hospitals:write");

  async function save(body: { ed_beds_available?: number; diversion?: boolean }) {
    setMessage(null);
    try {
      await endpoints.updateHospital(api, hospital.id, body);
      setMessage("Saved.");
      onSaved();
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : "Not saved");
    }
  }

  return (
    <div>
      <p>
        ED beds free: <strong>{hospital.ed_beds_available ?? "?"}</strong>
        {hospital.ed_beds_total != null ? ` of ${hospital.ed_beds_total}` : ""}
      </p>
      <p className={hospital.diversion ? "diversion on" : "diversion"}>
        {hospital.diversion ? "ON DIVERSION — not accepting ambulances" : "Accepting ambulances"}
      </p>
      {editable && (
        <>
          <form
            className="form"
            onSubmit={(e) => {
              e.preventDefault();
              void save({ ed_beds_available: Number(beds) });
            }}
          >
            <label>
              ED beds free
              <input type="number" min={0} value={beds} onChange={(e) => setBeds(e.target.value)} />
            </label>
            <button type="submit">Update beds</button>
          </form>
          <button type="button" className={hospital.diversion ? "primary" : "danger"} onClick={() => void save({ diversion: !hospital.diversion })}>
            {hospital.diversion ? "End diversion" : "Go on diversion"}
          </button>
        </>
      )}
      {message && <p role="status">{message}</p>}
    </div>
  );
}
