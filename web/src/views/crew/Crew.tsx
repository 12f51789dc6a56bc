/* The ambulance crew's screen (issue #23), phone first, for the unit the account belongs to:
 * one tap per status, the call with its address, route and ETA, the destination recommendation and the
 * crew's choice, the ATMIST handoff with the monitor's signs, photos and ECGs from the camera.
 * Every action goes through the offline queue (queue.ts): taken without network, it is kept and
 * sent in order, once, when the network is back. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError } from "../../api/client";
import { endpoints } from "../../api/endpoints";
import type { CrewAssignment, HandoffRead, HospitalRead, UnitStatus } from "../../api/types";
import { useApp, useChannel, useConnectionState, useResync } from "../../app/context";
import { crewChannel } from "../../lib/live";
import { HandoffEditor, type DraftPersistence } from "../dispatch/HandoffEditor";
import { Attachments } from "./Attachments";
import { CallCard } from "./CallCard";
import { Destination } from "./Destination";
import { STATUS_KEYS, STATUS_PATH, canMove, expectedStatus, statusLabel } from "./lifecycle";
import type { OfflineQueue } from "./queue";
import { QueuePanel } from "./QueuePanel";
import { useCrewQueue } from "./useCrewQueue";

const POLL_MS = 15_000;

export function Crew() {
  const { api, me } = useApp();
  const { queue, state, online } = useCrewQueue(api);
  const [view, setView] = useState<CrewAssignment | null | undefined>(undefined);
  // When the server last gave the assignment (its route and ETA): shown when they may be old.
  const [viewAt, setViewAt] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [hospitals, setHospitals] = useState<HospitalRead[]>([]);
  // The crew's choice for this call; until it chooses, the destination the server knows.
  const [choice, setChoice] = useState<{ incident: string; hospital: string } | null>(null);
  const [handoff, setHandoff] = useState<HandoffRead | null>(null);
  // Bumped to reopen the handoff panel after the monitor's newest signs were merged in.
  const [editorKey, setEditorKey] = useState(0);
  const [signsMessage, setSignsMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setView(await api.get<CrewAssignment>("/api/crew/assignment"));
      setViewAt(new Date().toISOString());
      setProblem(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setView(null);
      else setProblem(e instanceof ApiError ? e.message : "No network: showing what was loaded last.");
    }
  }, [api]);
  useEffect(() => {
    void load();
    endpoints.hospitals(api).then(setHospitals, () => undefined);
  }, [api, load]);
  // Answers from the server move the picture on.
  useEffect(() => queue.onDone(() => void load()), [queue, load]);
  // A new call, and every change to the unit or its call, arrives on the unit's channel as
  // GET /api/crew/assignment returns it; after a reconnect (or a gap) the view reloads once.
  useChannel(crewChannel(me), (m) => {
    if (m.type !== "assignment") return;
    setView(m.data as CrewAssignment);
    setViewAt(new Date().toISOString());
    setProblem(null);
  });
  useResync(() => void load());
  // Without the live connection (a tunnel, a dead zone): poll, as before the push existed.
  const live = useConnectionState() === "open";
  const idle = state.pending.length === 0;
  useEffect(() => {
    if (live || !online || !idle) return;
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [live, online, idle, load]);

  const incidentId = view?.incident?.id ?? null;
  const destination = choice && choice.incident === incidentId ? choice.hospital : (view?.unit.hospital_id ?? null);

  const persist = useMemo(() => queuedPersistence(queue), [queue]);
  if (view === undefined) return <p className="muted">{problem ?? "Loading…"}</p>;
  if (view === null)
    return (
      <section className="crew card" data-testid="crew-no-unit" aria-labelledby="crew-no-unit-title">
        <h1 id="crew-no-unit-title">Crew</h1>
        <p>Your account belongs to no ambulance unit yet. An administrator sets it (Admin → People &amp; roles → Unit).</p>
      </section>
    );
  const status = expectedStatus(view.unit.status, state.pending);
  const staleWhy = !online
    ? "no network, they update when it is back"
    : status !== view.unit.status
      ? "the status change is waiting to be sent"
      : null;
  const hospitalName = (id: string | null) => hospitals.find((h) => h.id === id)?.name ?? null;
  const incident = view.incident;
  const patient = incident?.patients[0] ?? null;

  return (
    <div className="crew" data-testid="crew">
      <header className="crew-head">
        <h1>
          {view.unit.call_sign} <span className="muted small">{view.unit.unit_type}</span>
        </h1>
        <span className={`status status-${status}`} data-testid="crew-status">
          {statusLabel(status)}
        </span>
        <span className={online ? "net net-online" : "net net-offline"} data-testid="crew-network" role="status">
          {online ? "Online" : "Offline"}
          {state.pending.length > 0 ? ` · ${state.pending.length} waiting` : ""}
        </span>
      </header>
      {problem && <p className="muted small">{problem}</p>}
      <StatusKeys
        status={status}
        destination={destination}
        destinationName={hospitalName(destination)}
        onTap={(to, label) =>
          void queue.enqueue({
            label,
            method: "POST",
            path: STATUS_PATH,
            body: { kind: "json", value: to === "transporting" && destination ? { status: to, hospital_id: destination } : { status: to } },
          })
        }
      />
      <QueuePanel state={state} onDismiss={(r) => queue.dismiss(r)} />
      {incident ? (
        <>
          <CallCard
            view={view}
            hospitals={hospitals}
            destination={destination}
            stale={staleWhy && viewAt ? { since: viewAt, why: staleWhy } : null}
          />
          <Destination
            incidentId={incident.id}
            chosen={destination}
            locked={status === "transporting" || status === "at_hospital"}
            onChoose={(hospital) => setChoice({ incident: incident.id, hospital })}
          />
          <section className="card crew-section" aria-labelledby="crew-handoff">
            <h2 id="crew-handoff">Handoff</h2>
            <HandoffEditor
              key={editorKey}
              incidentId={incident.id}
              patientId={patient?.id ?? null}
              unitId={view.unit.call_sign}
              hospitalId={destination}
              hospitalName={hospitalName(destination)}
              persist={persist}
              onHandoff={setHandoff}
            />
            {handoff?.status === "draft" && destination && online && (
              <button
                type="button"
                onClick={() =>
                  // The draft route merges the readings since the draft's newest monitor set.
                  void api
                    .post<HandoffRead>("/api/handoffs/draft", { incident_id: incident.id, patient_id: patient?.id ?? null, unit_id: view.unit.call_sign, hospital_id: destination })
                    .then(
                      () => {
                        setSignsMessage(null);
                        setEditorKey((k) => k + 1);
                      },
                      (e: unknown) => setSignsMessage(e instanceof ApiError ? e.message : "Not updated"),
                    )
                }
              >
                Add the monitor's newest signs (save your edits first)
              </button>
            )}
            {signsMessage && <p role="alert" className="error small">{signsMessage}</p>}
            {handoff && state.pending.some((a) => a.path === `/api/handoffs/${handoff.id}/send`) && (
              <p className="queued-note small" data-testid="handoff-queued">
                Not yet with the hospital: it goes when the network is back.
              </p>
            )}
          </section>
          <Attachments handoff={handoff} queue={queue} pending={state.pending} />
        </>
      ) : (
        <p className="card" data-testid="no-call">
          No call assigned. Status: {statusLabel(status)}.
        </p>
      )}
    </div>
  );
}

function StatusKeys({
  status,
  destination,
  destinationName,
  onTap,
}: {
  status: UnitStatus;
  destination: string | null;
  destinationName: string | null;
  onTap: (to: UnitStatus, label: string) => void;
}) {
  return (
    <section aria-label="Unit status" className="status-keys" data-testid="status-keys">
      {STATUS_KEYS.map((k) => {
        const allowed = canMove(status, k.status);
        const blocked = k.status === "transporting" && allowed && !destination;
        return (
          <button
            key={k.status}
            type="button"
            className={status === k.status ? "status-key current" : "status-key"}
            aria-pressed={status === k.status}
            disabled={!allowed || blocked}
            title={blocked ? "Choose a destination first" : undefined}
            onClick={() => onTap(k.status, k.status === "transporting" && destinationName ? `Transporting to ${destinationName}` : k.label)}
          >
            {k.label}
          </button>
        );
      })}
      {status === "on_scene" && !destination && <p className="muted small">Choose a destination to start transporting.</p>}
    </section>
  );
}

/** The handoff's save and send through the queue: the draft shown at once as it will be. */
function queuedPersistence(queue: OfflineQueue): DraftPersistence {
  return {
    async save(h, edit) {
      await queue.enqueue({ label: "Save handoff", method: "PATCH", path: `/api/handoffs/${h.id}`, body: { kind: "json", value: edit } });
      return { ...h, content: edit.content, acuity: edit.acuity, eta: edit.eta ?? null, updated_at: new Date().toISOString() };
    },
    async send(h) {
      await queue.enqueue({ label: "Send handoff", method: "POST", path: `/api/handoffs/${h.id}/send`, body: { kind: "json", value: {} } });
      return { ...h, status: "sent", updated_at: new Date().toISOString() };
    },
  };
}
