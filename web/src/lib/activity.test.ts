import { describe, expect, it } from "vitest";
import { actorLabel, filterEntries, newestFirst, subjectLabel, type ActivityEntry } from "./activity";

function entry(id: number, at: string, action = "updated", detail = ""): ActivityEntry {
  return { id, at, actor: "em", subject_kind: "shelter", subject_id: `s-${id}-0000000000`, action, detail };
}

describe("newestFirst", () => {
  it("orders by time then id, newest first, leaving the input alone", () => {
    const input = [entry(1, "2026-01-01T10:00:00Z"), entry(3, "2026-01-01T09:00:00Z"), entry(2, "2026-01-01T10:00:00Z")];
    expect(newestFirst(input).map((e) => e.id)).toEqual([2, 1, 3]);
    expect(input.map((e) => e.id)).toEqual([1, 3, 2]);
  });
});

describe("filterEntries", () => {
  const all = [entry(1, "2026-01-01T08:00:00Z", "opened", "Kallio: 40 beds"), entry(2, "2026-01-01T12:00:00Z", "check_in")];
  it("keeps everything with no filters", () => {
    expect(filterEntries(all, "", "")).toHaveLength(2);
  });
  it("drops entries before the time", () => {
    expect(filterEntries(all, "2026-01-01T10:00:00Z", "").map((e) => e.id)).toEqual([2]);
  });
  it("matches action or detail, case-insensitively", () => {
    expect(filterEntries(all, "", "KALLIO").map((e) => e.id)).toEqual([1]);
    expect(filterEntries(all, "", "check").map((e) => e.id)).toEqual([2]);
    expect(filterEntries(all, "", "nothing")).toEqual([]);
  });
});

describe("subjectLabel", () => {
  it("uses the known name, else a short id", () => {
    const e = entry(1, "2026-01-01T08:00:00Z");
    expect(subjectLabel(e, new Map([[e.subject_id, "Kallio School"]]))).toBe("shelter: Kallio School");
    expect(subjectLabel(e, new Map())).toBe("shelter: s-1-0000");
  });
});

describe("actorLabel", () => {
  const me = { kind: "user", id: "u1", name: "em.e2e" };
  it("names the signed-in user, others by their resolved name, system actors as they are", () => {
    expect(actorLabel("user:u1", me, "em.e2e")).toBe("em.e2e (you)");
    expect(actorLabel("user:u2", me, "dispatcher.anna")).toBe("dispatcher.anna");
    expect(actorLabel("user:u2", me, null)).toBe("user:u2");
    expect(actorLabel("system:registry", me)).toBe("system:registry");
  });
});
