import { type SyntheticEvent, useCallback, useEffect, useState } from "react";
import { opt, problemText } from "../../api/emergency";
import { intake, type BookingRead, type DeviceReportRead } from "../../api/intake";
import { clinics, saveFile } from "../../api/intakeRecords";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

/** On the session: the patient's device reports (file one from a device), and a follow-up
    appointment booked in the earliest free slot of a specialty. */
export function SessionFollowUps({ sessionId }: { sessionId: string }) {
  const { api, can } = useApp();
  const { busy, run } = useSubmit();
  const [reports, setReports] = useState<DeviceReportRead[]>([]);
  const [booking, setBooking] = useState<BookingRead | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setReports(await intake.deviceReports(api, sessionId));
    } catch (err) {
      setMessage(problemText(err));
    }
  }, [api, sessionId]);
  useEffect(() => void load(), [load]);

  async function fileReport(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const form = e.currentTarget;
      const f = new FormData(form);
      try {
        await intake.fileReport(api, opt(f, "device_id") ?? "", { session_id: sessionId, summary: opt(f, "summary") ?? "" });
        setMessage("Device report filed on the chart.");
        form.reset();
        await load();
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  async function schedule(e: SyntheticEvent<HTMLFormElement>) {
    e.preventDefault();
    await run(async (api) => {
      const f = new FormData(e.currentTarget);
      try {
        setBooking(
          await intake.schedule(api, {
            session_id: sessionId,
            specialty: opt(f, "specialty") ?? "",
            reason: opt(f, "reason") ?? "",
          }),
        );
        setMessage("Follow-up booked.");
      } catch (err) {
        setMessage(problemText(err));
      }
    });
  }

  async function exportIcs(b: BookingRead) {
    try {
      saveFile(await clinics.ics(api, b.id), `appointment-${b.id}.ics`);
    } catch (err) {
      setMessage(problemText(err));
    }
  }

  if (!can("intake:write")) return null;
  return (
    <section className="panel" aria-labelledby="followups-title">
      <h2 id="followups-title">Devices and follow-up</h2>
      {message && <p role="status" data-testid="followups-message">{message}</p>}
      <h3>Device reports</h3>
      <table className="table" data-testid="device-reports">
        <thead><tr><th>Filed</th><th>Device</th><th>Report</th></tr></thead>
        <tbody>
          {reports.map((r) => (
            <tr key={r.id}>
              <td>{new Date(r.filed_at).toLocaleString()}</td>
              <td>{r.device_id}</td>
              <td>{r.summary}</td>
            </tr>
          ))}
          {reports.length === 0 && <tr><td colSpan={3} className="muted">None.</td></tr>}
        </tbody>
      </table>
      <form aria-busy={busy} onSubmit={(e) => void fileReport(e)} aria-label="File device report">
        <label>Device id <input name="device_id" required pattern="[A-Za-z0-9_\-]{1,64}" /></label>{" "}
        <label>Report <input name="summary" required maxLength={2000} /></label>{" "}
        <button type="submit" disabled={busy}>File report</button>
      </form>
      <h3>Follow-up appointment</h3>
      <form aria-busy={busy} onSubmit={(e) => void schedule(e)} aria-label="Schedule follow-up">
        <label>Specialty <input name="specialty" required maxLength={60} /></label>{" "}
        <label>Reason <input name="reason" required maxLength={200} /></label>{" "}
        <button type="submit" disabled={busy}>Book earliest slot</button>
      </form>
      {booking && (
        <p data-testid="follow-up">
          {new Date(booking.slot.starts_at).toLocaleString()} with {booking.slot.clinician_name} ({booking.slot.specialty}),{" "}
          {booking.slot.location ?? ""} —{" "}
          <button type="button" onClick={() => void exportIcs(booking)}>.ics</button>
        </p>
      )}
    </section>
  );
}
