/* The dispatcher's new-call form; while it is open a click on the map sets the position. */
import { useEffect, useState, type SyntheticEvent } from "react";
import { ApiError } from "../../api/client";
import type { IncidentCreate, IncidentRead } from "../../api/types";
import { useSubmit } from "../../app/useSubmit";
import { AddressSearch } from "../../components/AddressSearch";

export function NewIncident({
  onCreated,
  onPickMode,
  picked,
}: {
  onCreated: (id: string) => void;
  /** While the form is open a click on the map sets its position. */
  onPickMode: (on: boolean) => void;
  picked: { lat: number; lon: number } | null;
}) {
  const { busy, run } = useSubmit();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ chief_complaint: "", priority: "3", address: "", lat: "", lon: "" });
  const [placed, setPlaced] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    onPickMode(open);
    return () => onPickMode(false);
  }, [open, onPickMode]);
  useEffect(() => {
    if (!picked) return;
    setForm((f) => ({ ...f, lat: picked.lat.toFixed(6), lon: picked.lon.toFixed(6) }));
    setPlaced(null); // a click on the map replaces a place picked from the suggestions
  }, [picked]);

  async function submit(e: SyntheticEvent) {
    e.preventDefault();
    await run(async (api) => {
      setErrors({});
      setError(null);
      const body: IncidentCreate = {
        chief_complaint: form.chief_complaint,
        priority: Number(form.priority),
        address: form.address || null,
        lat: form.lat ? Number(form.lat) : null,
        lon: form.lon ? Number(form.lon) : null,
        callback_number: null,
      };
      try {
        const created = await api.post<IncidentRead>("/api/incidents", body);
        setForm({ chief_complaint: "", priority: "3", address: "", lat: "", lon: "" });
        setPlaced(null);
        setOpen(false);
        onCreated(created.id);
      } catch (err) {
        if (err instanceof ApiError) {
          setErrors(err.fields);
          setError(err.message);
        } else setError("Could not create the incident");
      }
    });
  }

  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  if (!open)
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        New incident
      </button>
    );
  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="New incident" aria-busy={busy}>
      <label>
        Chief complaint
        <input name="chief_complaint" required autoFocus value={form.chief_complaint} onChange={set("chief_complaint")} />
        {errors.chief_complaint && <span className="error">{errors.chief_complaint}</span>}
      </label>
      <label>
        Priority (1 most urgent)
        <select name="priority" value={form.priority} onChange={set("priority")}>
          {[1, 2, 3, 4, 5].map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <label>
        Address
        <AddressSearch
          value={form.address}
          onChange={(address) => setForm((f) => ({ ...f, address }))}
          onPick={(hit) => {
            // The position of the chosen place; the address stays as the dispatcher typed it.
            setForm((f) => ({ ...f, lat: hit.lat.toFixed(6), lon: hit.lon.toFixed(6) }));
            setPlaced(hit.note ? `${hit.label} (${hit.note})` : hit.label);
          }}
        />
      </label>
      {placed && (
        <p className="placed" role="status" data-testid="placed">
          Placed at: {placed}
        </p>
      )}
      <p className="muted small" data-testid="pick-hint">
        Pick a suggested address, or click the map to set the location (or type it).
      </p>
      <div className="row2">
        <label>
          Latitude
          <input name="lat" inputMode="decimal" value={form.lat} onChange={set("lat")} />
          {errors.lat && <span className="error">{errors.lat}</span>}
        </label>
        <label>
          Longitude
          <input name="lon" inputMode="decimal" value={form.lon} onChange={set("lon")} />
          {errors.lon && <span className="error">{errors.lon}</span>}
        </label>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          Create incident
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
