/* Where to take the patient: the hub's recommendation for the patient's condition (each need
 * with its reason) and the crew's choice, which goes with the 'transporting' tap and the
 * handoff. */
import { useEffect, useState } from "react";
import { endpoints } from "../../api/endpoints";
import type { DestinationRecommendation } from "../../api/types";
import { useApp } from "../../app/context";
import { etaText } from "../../lib/time";
import { NeedsList } from "../dispatch/Findings";

export function Destination({
  incidentId,
  chosen,
  locked,
  onChoose,
}: {
  incidentId: string;
  chosen: string | null;
  locked: boolean;
  onChoose: (hospitalId: string) => void;
}) {
  const { api } = useApp();
  const [dests, setDests] = useState<DestinationRecommendation | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    endpoints.destinations(api, incidentId).then(
      (d) => {
        setDests(d);
        setFailed(false);
      },
      () => setFailed(true),
    );
  }, [api, incidentId]);
  return (
    <section className="card crew-section" aria-labelledby="crew-destination" data-testid="crew-destination">
      <h2 id="crew-destination">Destination</h2>
      {!dests && <p className="muted small">{failed ? "The recommendation could not be loaded." : "Loading…"}</p>}
      {dests && (
        <fieldset className="recs" disabled={locked}>
          <legend className="sr-only">Destination hospital</legend>
          <NeedsList dests={dests} />
          {dests.ranked.slice(0, 5).map((d) => (
            <label key={d.hospital_id} className="rec">
              <input type="radio" name="crew-destination" checked={chosen === d.hospital_id} onChange={() => onChoose(d.hospital_id)} />
              <span>
                <strong>
                  {d.rank}. {d.name}
                </strong>{" "}
                ETA {d.eta_s != null ? etaText(d.eta_s) : "unknown"}
                <br />
                <span className="muted small">{d.reason}</span>
              </span>
            </label>
          ))}
          {dests.ranked.length === 0 && <p className="muted">No suitable hospital.</p>}
        </fieldset>
      )}
    </section>
  );
}
