import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/client";
import { endpoints, type ReceiptStatus } from "../api/endpoints";
import { type MedicationConflict, registry } from "../api/registry";
import type { FeedEntryRead, HandoffRead as Handoff, HospitalRead as HospitalT, HospitalUpdate, UnitRead } from "../api/types";
import { useApp, useChannel, useNow, useResync } from "../app/context";
import { useSubmit } from "../app/useSubmit";
import { HandoffCard } from "../components/HandoffCard";
import { applyPushed } from "../lib/live";
import { useFeedAck } from "./hospital/useFeedAck";

// The statuses the incoming list shows (endpoints.handoffs asks for these).
const INCOMING = ["sent", "delivered", "acknowledged", "redirected", "arrived"];

// The hospital's next move from each status (the handoff lifecycle table on the server decides).
const NEXT_ACTIONS: Record<string, { status: ReceiptStatus; label: string }[]> = {
  sent: [{ status: "acknowledged", label: "Acknowledge" }],
  delivered: [{ status: "acknowledged", label: "Acknowledge" }],
  redirected: [{ status: "acknowledged", label: "Acknowledge" }],
  acknowledged: [{ status: "arrived", label: "Patient arrived" }],
  arrived: [{ status: "handed_over", label: "Handed over" }],
};

export function Hospital() {
  const { api, me, can } = useApp();
  const { busy, run } = useSubmit();
  const now = useNow(1000);
  const [hospitals, setHospitals] = useState<HospitalT[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const hospitalId = me?.hospital_id ?? chosen;
  const [handoffs, setHandoffs] = useState<Handoff[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  // Call signs: the ED knows the ambulance by its radio name, not by its id.
  const [callSigns, setCallSigns] = useState<Record<string, string>>({});
  useEffect(() => {
    if (!can("units:read")) return;
    endpoints.units(api).then(
      (us: UnitRead[]) => setCallSigns(Object.fromEntries(us.map((u) => [u.id, u.call_sign]))),
      () => undefined,
    );
  }, [api, can, handoffs]);

  const loadHospitals = useCallback(async () => {
    setHospitals(await endpoints.hospitals(api).catch(() => null));
  }, [api]);
  // Loads overlap (each receipt starts one, so do reconnects): only the latest one's answer is
  // shown. An older one finishing last put back a handoff as it was listed before it was handed
  // over, and it stayed on the incoming list (seen under load: "Handed over" then no change).
  const latestLoad = useRef(0);
  const loadHandoffs = useCallback(async () => {
    const load = ++latestLoad.current;
    if (!hospitalId) {
      setHandoffs([]);
      return;
    }
    const page = await endpoints.handoffs(api, hospitalId).catch(() => null);
    if (page === null) {
      if (load === latestLoad.current) setHandoffs(null);
      return;
    }
    // The list carries routing metadata only; each handoff opens (ATMIST) for this hospital.
    const opened = await Promise.all(page.items.map((h) => endpoints.handoff(api, h.id).catch(() => h)));
    if (load !== latestLoad.current) return;
    // One handed over (or otherwise moved on) between the list and its own read is no longer incoming.
    setHandoffs(opened.filter((h) => INCOMING.includes(h.status)));
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
  // Hospital staff get their hospital's channel; the crew and dispatch (no hospital) the general one.
  const channel = me?.hospital_id ? `handoffs:${me.hospital_id}` : can("handoffs:write") ? "handoffs" : null;
  // A pushed handoff is as GET returns it to this account: applied as it is, newest first.
  const put = useCallback(
    (h: Handoff) =>
      setHandoffs((list) =>
        list === null
          ? list
          : applyPushed(list, h, h.hospital_id === hospitalId && INCOMING.includes(h.status)).sort(
              (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at),
            ),
      ),
    [hospitalId],
  );
  useChannel(channel, (m) => {
    if (m.channel === "handoffs") {
      if (m.type === "board") put(m.data as Handoff); // routing metadata, as listed
      return;
    }
    const entry = m.data as FeedEntryRead;
    if (entry.withdrawn || m.type === "withdrawn") {
      setHandoffs((list) => list?.filter((h) => h.id !== entry.handoff_id) ?? list);
    } else if (entry.handoff) {
      put(entry.handoff); // opened for this hospital, as the feed and GET return it
    } else {
      // A status or clinical update entry carries the change alone; the picture merged from it
      // is computed by the server, so this one handoff is read again.
      void endpoints.handoff(api, entry.handoff_id).then(put, () => undefined);
    }
  });
  useChannel("hospitals", () => void loadHospitals());

  // Allergy conflicts of each opened handoff (the registry checks written and recorded allergies).
  const [conflicts, setConflicts] = useState<Record<string, MedicationConflict[]>>({});
  useEffect(() => {
    const opened = (handoffs ?? []).filter((h) => h.picture?.treatment?.some((t) => t.kind === "medication"));
    void Promise.all(
      opened.map((h) =>
        registry.checkHandoff(api, h.id).then(
          (c): [string, MedicationConflict[]] => [h.id, c.conflicts],
          (): [string, MedicationConflict[]] => [h.id, []],
        ),
      ),
    ).then((pairs) => setConflicts(Object.fromEntries(pairs) as Record<string, MedicationConflict[]>));
  }, [api, handoffs]);

  const hospital = hospitals?.find((h) => h.id === hospitalId) ?? null;
  useFeedAck(me?.hospital_id, handoffs);

  async function act(id: string, status: ReceiptStatus) {
    await run(async (api) => {
      setMessage(null);
      try {
        await endpoints.receipt(api, id, status);
        void loadHandoffs();
      } catch (e) {
        setMessage(e instanceof ApiError ? e.message : "Action failed");
      }
    });
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
            Handoffs could not be loaded.
          </p>
        ) : (
          <ul className="cards" data-testid="handoffs">
            {handoffs.map((h) => (
              <HandoffCard
                key={h.id}
                handoff={h}
                callSign={h.unit_id ? (callSigns[h.unit_id] ?? null) : null}
                conflicts={conflicts[h.id]}
                now={now}
                actions={
                  can("handoffs:receive") && (
                    <div className="actions">
                      {(NEXT_ACTIONS[h.status] ?? []).map((a) => (
                        <button disabled={busy} key={a.status} type="button" className="primary" onClick={() => void act(h.id, a.status)}>
                          {a.label}
                        </button>
                      ))}
                    </div>
                  )
                }
              />
            ))}
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
              ? "Hospitals could not be loaded."
              : "Choose a hospital."}
          </p>
        )}
      </aside>
    </div>
  );
}

function Capacity({ hospital, onSaved }: { hospital: HospitalT; onSaved: () => void }) {
  const { can } = useApp();
  const { busy, run } = useSubmit();
  const [beds, setBeds] = useState(String(hospital.ed_beds_available ?? ""));
  const [message, setMessage] = useState<string | null>(null);
  const editable = can("hospitals:write");

  async function save(body: HospitalUpdate) {
    await run(async (api) => {
      setMessage(null);
      try {
        await endpoints.updateHospital(api, hospital.id, body);
        setMessage("Saved.");
        onSaved();
      } catch (e) {
        setMessage(e instanceof ApiError ? e.message : "Not saved");
      }
    });
  }

  return (
    <div>
      <p>
        ED beds free: <strong>{hospital.ed_beds_available ?? "?"}</strong>
      </p>
      <p className={hospital.diversion ? "diversion on" : "diversion"}>
        {hospital.diversion
          ? `ON DIVERSION — not accepting ambulances${hospital.diversion_reason ? ` (${hospital.diversion_reason})` : ""}`
          : "Accepting ambulances"}
      </p>
      {editable && (
        <>
          <form
            className="form"
            aria-busy={busy}
            onSubmit={(e) => {
              e.preventDefault();
              void save({ ed_beds_available: Number(beds) });
            }}
          >
            <label>
              ED beds free
              <input type="number" min={0} value={beds} onChange={(e) => setBeds(e.target.value)} />
            </label>
            <button type="submit" disabled={busy}>Update beds</button>
          </form>
          <button type="button" disabled={busy} className={hospital.diversion ? "primary" : "danger"} onClick={() =>
              void save(
                hospital.diversion ? { diversion: false } : { diversion: true, diversion_reason: "ED full" },
              )
            }>
            {hospital.diversion ? "End diversion" : "Go on diversion"}
          </button>
        </>
      )}
      {message && <p role="status">{message}</p>}
    </div>
  );
}
