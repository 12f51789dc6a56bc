import { describe, expect, it } from "vitest";
import type { UnitRead } from "../api/types";
import { pendingFrom, settled, shownStatus, unitsOn } from "./assignment";

const unit = (over: Partial<UnitRead>): UnitRead =>
  ({
    id: "u1",
    call_sign: "A1",
    crew: [],
    device_id: null,
    heading: null,
    hospital_id: null,
    incident_id: null,
    lat: null,
    lon: null,
    position_at: null,
    speed_mps: null,
    station_lat: 0,
    station_lon: 0,
    station_name: null,
    status: "available",
    status_changed_at: "2026-12-07T08:00:00Z",
    unit_type: "als",
    updated_at: "2026-12-07T08:00:00Z",
    ...over,
  }) as UnitRead;

const assigned = unit({ incident_id: "i1", status: "dispatched", updated_at: "2026-12-07T08:00:05Z" });
const pending = pendingFrom("triaged", {
  eta_s: 120,
  incident_id: "i1",
  incident_status: "dispatched",
  route: null,
  unit: assigned,
});

describe("an accepted assignment before its pushes arrive", () => {
  it("shows the answer's status until the incident's push moves the status on", () => {
    expect(shownStatus("triaged", pending)).toBe("dispatched");
    expect(shownStatus("dispatched", pending)).toBe("dispatched");
    expect(shownStatus("on_scene", pending)).toBe("on_scene");
    expect(shownStatus("triaged", null)).toBe("triaged");
  });

  it("lists the assigned unit while the units list still holds the older copy, then the list's", () => {
    const before = [unit({}), unit({ id: "u2", incident_id: "i1", status: "en_route" })];
    expect(unitsOn("i1", before, pending).map((u) => [u.id, u.status])).toEqual([
      ["u2", "en_route"],
      ["u1", "dispatched"],
    ]);
    // A newer copy in the list wins, whatever it says (here: already released again).
    const later = [unit({ updated_at: "2026-12-07T08:01:00Z" })];
    expect(unitsOn("i1", later, pending)).toEqual([]);
  });

  it("is settled only when both the incident's and the units' pushes have arrived", () => {
    expect(settled("triaged", [assigned], pending)).toBe(false);
    expect(settled("dispatched", [unit({})], pending)).toBe(false);
    expect(settled("dispatched", [assigned], pending)).toBe(true);
  });
});
