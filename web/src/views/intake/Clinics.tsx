import { useCallback, useEffect, useState, type SyntheticEvent } from "react";
import { problemText, text } from "../../api/emergency";
import { clinics, saveFile, type BookingRead, type ClinicianRead, type SlotRead } from "../../api/intakeRecords";
import { useApp } from "../../app/context";
import { actions, useSubmit } from "../../app/useSubmit";

const when = (iso: string) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

/** Clinicians, their free slots and bookings: add availability, book, cancel, export .ics. */
export function Clinics() {
  const { api } = useApp();
  const [clinicians, setClinicians] = useState<ClinicianRead[]>([]);
  const [slots, setSlots] = useState<SlotRead[]>([]);
  const [bookings, setBookings] = useState<BookingRead[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const load = useCallback(async () => {
    const [c, s, b] = await Promise.all([
      clinics.clinicians(api).catch(() => []),
      clinics.slots(api).catch(() => []),
      clinics.bookings(api).catch(() => []),
    ]);
    setClinicians(c);
    setSlots(s);
    setBookings(b);
  }, [api]);
  useEffect(() => void load(), [load]);

  const { busy, act } = actions(useSubmit(), load, setMessage, problemText);

  function addClinician(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    void act((api) => clinics.addClinician(api, { name: text(f, "name"), specialty: text(f, "specialty") }), "Clinician added.");
  }

  function addWindow(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const start = new Date(text(f, "start"));
    const end = new Date(start.getTime() + Number(text(f, "hours")) * 3600_000);
    void act(
      (api) => clinics.addAvailability(api, text(f, "clinician"), {
        starts_at: start.toISOString(), ends_at: end.toISOString(), slot_minutes: Number(text(f, "minutes")),
        kind: text(f, "kind") as SlotRead["kind"], location: text(f, "location") || null,
      }),
      "Slots added.",
    );
  }

  async function ics(b: BookingRead) {
    try {
      saveFile(await clinics.ics(api, b.id), `appointment-${b.id}.ics`);
      setMessage("Calendar file saved.");
    } catch (err) {
      setMessage(problemText(err));
    }
  }

  return (
    <section className="panel" aria-labelledby="clinics-title">
      <h2 id="clinics-title">Clinics and follow-ups</h2>
      {message && <p role="status" data-testid="intake-message">{message}</p>}
      <h3>Bookings</h3>
      <table className="table" data-testid="bookings">
        <thead><tr><th>When</th><th>Clinic</th><th>With</th><th>Reason</th><th>State</th><th /></tr></thead>
        <tbody>
          {bookings.map((b) => (
            <tr key={b.id}>
              <td>{when(b.slot.starts_at)}</td>
              <td>{b.slot.specialty.replace(/_/g, " ")}</td>
              <td>{b.slot.clinician_name}</td>
              <td>{b.reason}</td>
              <td>{b.cancelled_at ? "cancelled" : "booked"}</td>
              <td>
                <button type="button" onClick={() => void ics(b)}>.ics</button>
                {!b.cancelled_at && <button disabled={busy} type="button" onClick={() => void act((api) => clinics.cancel(api, b.id), "Booking cancelled.")}>Cancel</button>}
              </td>
            </tr>
          ))}
          {bookings.length === 0 && <tr><td colSpan={6} className="muted">No bookings.</td></tr>}
        </tbody>
      </table>
      <h3>Free slots</h3>
      <table className="table" data-testid="slots">
        <thead><tr><th>When</th><th>Clinic</th><th>With</th><th>Where</th><th /></tr></thead>
        <tbody>
          {slots.map((s) => (
            <tr key={s.id}>
              <td>{when(s.starts_at)}</td>
              <td>{s.specialty.replace(/_/g, " ")} ({s.kind.replace(/_/g, " ")})</td>
              <td>{s.clinician_name}</td>
              <td>{s.location ?? "—"}</td>
              <td><button disabled={busy} type="button" onClick={() => void act((api) => clinics.book(api, s.id, "booked at the desk"), "Booked.")}>Book</button></td>
            </tr>
          ))}
          {slots.length === 0 && <tr><td colSpan={5} className="muted">No free slots in the next 30 days.</td></tr>}
        </tbody>
      </table>
      <h3>Clinicians</h3>
      <ul>{clinicians.map((c) => <li key={c.id}>{c.name} · {c.specialty.replace(/_/g, " ")}</li>)}</ul>
      <form aria-busy={busy} onSubmit={addClinician} aria-label="Add a clinician" className="inline">
        <label>Name <input name="name" required maxLength={120} /></label>
        <label>Specialty <input name="specialty" required pattern="[a-z][a-z0-9_]*" placeholder="surgery" /></label>
        <button type="submit" disabled={busy}>Add clinician</button>
      </form>
      {clinicians.length > 0 && (
        <form aria-busy={busy} onSubmit={addWindow} aria-label="Add availability" className="inline">
          <label>Clinician <select name="clinician">{clinicians.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}</select></label>
          <label>From <input name="start" type="datetime-local" required /></label>
          <label>Hours <input name="hours" type="number" min={1} max={12} defaultValue={2} /></label>
          <label>Slot minutes <input name="minutes" type="number" min={5} max={480} defaultValue={20} /></label>
          <label>Kind <select name="kind"><option value="follow_up">follow-up</option><option value="specialist">specialist</option></select></label>
          <label>Where <input name="location" maxLength={120} /></label>
          <button type="submit" disabled={busy}>Add slots</button>
        </form>
      )}
    </section>
  );
}
