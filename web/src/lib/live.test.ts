import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { applyPushed, crewChannel, incidentsChannel } from "./live";

const at = (id: string, updated_at: string, note = "") => ({ id, updated_at, note });

describe("applyPushed", () => {
  it("replaces the entry of the same id and adds a new one", () => {
    const list = [at("a", "2026-01-01T10:00:00Z"), at("b", "2026-01-01T10:00:00Z")];
    const changed = applyPushed(list, at("b", "2026-01-01T10:01:00Z", "moved"), true);
    expect(changed.map((x) => x.note)).toEqual(["", "moved"]);
    expect(applyPushed(changed, at("c", "2026-01-01T10:02:00Z"), true).map((x) => x.id)).toEqual(["a", "b", "c"]);
  });
  it("drops an entry that no longer belongs, and ignores a push older than what is held", () => {
    const list = [at("a", "2026-01-01T10:05:00Z", "newest")];
    expect(applyPushed(list, at("a", "2026-01-01T10:04:00Z", "stale"), true)[0]?.note).toBe("newest");
    expect(applyPushed(list, at("a", "2026-01-01T10:04:00Z"), false)).toHaveLength(1);
    expect(applyPushed(list, at("a", "2026-01-01T10:06:00Z"), false)).toEqual([]);
    expect(applyPushed(list, at("z", "2026-01-01T10:06:00Z"), false)).toEqual(list);
  });
});

const me = (role: string, extra: Partial<Me> = {}): Me =>
  ({ id: "u", name: "u", role, kind: "user", hospital_id: null, unit_id: null, permissions: [], ...extra }) as Me;

describe("channels", () => {
  it("gives hospital staff their hospital's incidents and a crew its unit", () => {
    expect(incidentsChannel(me("dispatcher", { permissions: ["incidents:read"] }))).toBe("incidents");
    expect(incidentsChannel(me("clinician", { permissions: ["incidents:read"], hospital_id: "h1" }))).toBe("incidents:hospital:h1");
    expect(incidentsChannel(me("clinician", { permissions: ["incidents:read"] }))).toBeNull();
    expect(incidentsChannel(me("crew", { permissions: ["crew:unit"], unit_id: "u1" }))).toBeNull();
    expect(crewChannel(me("crew", { permissions: ["crew:unit"], unit_id: "u1" }))).toBe("incidents:unit:u1");
    expect(crewChannel(me("crew", { permissions: ["crew:unit"] }))).toBeNull();
  });
});
