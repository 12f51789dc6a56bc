/* The units on an incident and their next moves (the server's unit lifecycle table decides;
 * these are the moves it allows from each status). Transporting goes with the destination the
 * dispatcher chose below, so the hospital is told and the transport ETA is recorded. */
import { useState } from "react";
import { ApiError } from "../../api/client";
import type { UnitRead as Unit, UnitStatus } from "../../api/types";
import { useApp } from "../../app/context";
import { useSubmit } from "../../app/useSubmit";

const NEXT: Record<UnitStatus, { status: UnitStatus; label: string; danger?: boolean }[]> = {
  available: [],
  out_of_service: [],
  dispatched: [
    { status: "en_route", label: "En route" },
    { status: "on_scene", label: "On scene" },
    { status: "available", label: "Stand down", danger: true },
  ],
  en_route: [
    { status: "on_scene", label: "On scene" },
    { status: "available", label: "Stand down", danger: true },
  ],
  on_scene: [
    { status: "transporting", label: "Transporting" },
    { status: "available", label: "Available (no transport)" },
  ],
  transporting: [{ status: "at_hospital", label: "At hospital" }],
  at_hospital: [{ status: "available", label: "Available" }],
};

export function UnitActions({
  units,
  hospitalId,
  hospitalName,
  onChanged,
}: {
  units: Unit[];
  hospitalId: string | null;
  hospitalName: string | null;
  onChanged: () => void;
}) {
  const { can } = useApp();
  const { busy, run } = useSubmit();
  const [message, setMessage] = useState<string | null>(null);
  if (units.length === 0) return <p className="muted small">No unit assigned yet.</p>;

  async function move(unit: Unit, status: UnitStatus) {
    await run(async (api) => {
      setMessage(null);
      // A dispatched unit goes on scene through en route (the lifecycle has no shortcut).
      const steps: UnitStatus[] = unit.status === "dispatched" && status === "on_scene" ? ["en_route", "on_scene"] : [status];
      try {
        for (const step of steps) {
          const body: { status: UnitStatus; hospital_id?: string } = { status: step };
          if (step === "transporting" && hospitalId) body.hospital_id = hospitalId;
          await api.post(`/api/units/${unit.id}/status`, body);
        }
        setMessage(`${unit.call_sign}: ${status.replace(/_/g, " ")}${status === "transporting" && hospitalName ? ` to ${hospitalName}` : ""}.`);
        onChanged();
      } catch (e) {
        setMessage(e instanceof ApiError ? `${unit.call_sign}: ${e.message}` : "Not changed");
      }
    });
  }

  return (
    <div data-testid="unit-actions" aria-busy={busy}>
      <ul className="list">
        {units.map((u) => (
          <li key={u.id} className="unit">
            <strong>{u.call_sign}</strong> <span className={`status status-${u.status}`}>{u.status.replace(/_/g, " ")}</span>
            {can("units:write") && (
              <span className="actions">
                {NEXT[u.status].map((a) => (
                  <button
                    key={a.status}
                    type="button"
                    className={a.danger ? "danger" : "primary"}
                    disabled={busy || (a.status === "transporting" && !hospitalId)}
                    title={a.status === "transporting" && !hospitalId ? "Choose a destination hospital first" : undefined}
                    onClick={() => void move(u, a.status)}
                  >
                    {a.label}
                  </button>
                ))}
              </span>
            )}
          </li>
        ))}
      </ul>
      {units.some((u) => u.status === "on_scene") && !hospitalId && (
        <p className="muted small">Choose a destination hospital to start transporting.</p>
      )}
      {message && <p role="status" data-testid="unit-message">{message}</p>}
    </div>
  );
}
