import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { problemText, text } from "../../api/emergency";
import { beds, type BedBoard as Board, type BedRead } from "../../api/intakeRecords";
import { useApp } from "../../app/context";
import { actions, useSubmit } from "../../app/useSubmit";

const ZONES = ["resus", "majors", "minors", "paediatric"];

/** What a person may do with a bed in its state (the board's moves). */
const ACTIONS: Record<BedRead["status"], [string, BedRead["status"] | "release"][]> = {
  available: [["Close", "closed"]],
  occupied: [["Patient left", "release"]],
  cleaning: [["Cleaned", "available"], ["Close", "closed"]],
  closed: [["Reopen", "available"]],
};

/** The ED bed board: beds by zone with their state and patient, kept by the charge nurse. */
export function BedBoard() {
  const { api, me } = useApp();
  // The person's own hospital once `me` has arrived (the view may mount before it does: a
  // starting value taken from it then stayed empty and the board never loaded); typed otherwise.
  const [typed, setHospitalId] = useState("");
  const hospitalId = me?.hospital_id ?? typed;
  const [board, setBoard] = useState<Board | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    if (!hospitalId) return;
    try {
      setBoard(await beds.board(api, hospitalId));
    } catch (err) {
      setMessage(problemText(err));
    }
  }, [api, hospitalId]);
  useEffect(() => void load(), [load]);

  const { busy, act } = actions(useSubmit(), load, setMessage, problemText);

  function addBed(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const label = text(f, "label");
    void act(
      (api) => beds.create(api, { hospital_id: hospitalId, zone: text(f, "zone"), label, monitored: f.get("monitored") === "on" }),
      `Bed ${label} added.`,
    );
  }

  const zones = [...new Set((board?.beds ?? []).map((b) => b.zone))];
  return (
    <section className="panel" aria-labelledby="beds-title">
      <h2 id="beds-title">ED bed board</h2>
      {!me?.hospital_id && (
        <label>
          Hospital id <input value={hospitalId} onChange={(e) => setHospitalId(e.target.value)} name="hospital" />
        </label>
      )}
      {message && <p role="status" data-testid="intake-message">{message}</p>}
      {board && (
        <p data-testid="beds-free">
          {board.available} free · {Object.entries(board.available_by_zone).map(([z, n]) => `${z} ${n}`).join(" · ")}
        </p>
      )}
      {zones.map((zone) => (
        <div key={zone}>
          <h3>{zone}</h3>
          <table className="table" data-testid={`zone-${zone}`}>
            <thead>
              <tr><th>Bed</th><th>State</th><th>Patient</th><th>Actions</th></tr>
            </thead>
            <tbody>
              {(board?.beds ?? []).filter((b) => b.zone === zone).map((b) => (
                <tr key={b.id} data-testid={`bed-${b.label}`}>
                  <td>{b.label}{b.monitored ? " (monitored)" : ""}</td>
                  <td><span className={`status status-${b.status}`}>{b.status}</span></td>
                  <td>
                    {b.occupant
                      ? `KTAS ${b.occupant.acuity ?? "?"} · since ${new Date(b.occupant.assigned_at).toLocaleTimeString()}`
                      : "—"}
                    {b.occupant?.session_id && <span className="muted small"> session {b.occupant.session_id.slice(0, 8)}</span>}
                  </td>
                  <td>
                    {ACTIONS[b.status].map(([label, to]) => (
                      <button
                        key={label}
                        type="button"
                        onClick={() =>
                          void act((api) => (to === "release" ? beds.release(api, b.id) : beds.move(api, b, to)), `${b.label}: ${label.toLowerCase()}.`)
                        }
                      >
                        {label}
                      </button>
                    ))}
                    {b.status === "available" && (
                      <button disabled={busy} type="button" onClick={() => void act((api) => beds.assign(api, b.id, null), `${b.label} assigned.`)}>
                        Assign walk-in
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {hospitalId && (
        <form aria-busy={busy} onSubmit={addBed} aria-label="Add a bed" className="inline">
          <label>Zone <select name="zone">{ZONES.map((z) => <option key={z}>{z}</option>)}</select></label>
          <label>Label <input name="label" required maxLength={40} /></label>
          <label><input type="checkbox" name="monitored" /> Monitored</label>
          <button type="submit" disabled={busy}>Add bed</button>
        </form>
      )}
    </section>
  );
}
