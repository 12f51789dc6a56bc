import { describe, expect, it } from "vitest";
import { auditQuery, chainVerdict, importPercent } from "./admin";

describe("importPercent", () => {
  it("counts steps done and is full once done", () => {
    expect(importPercent({ state: "running", step: 2, steps: 8 })).toBe(25);
    expect(importPercent({ state: "running", step: 9, steps: 8 })).toBe(100);
    expect(importPercent({ state: "running", step: 0, steps: 0 })).toBe(0);
    expect(importPercent({ state: "done", step: 3, steps: 8 })).toBe(100);
  });
});

describe("auditQuery", () => {
  it("asks newest first and pages back from a seq", () => {
    expect(auditQuery({ action: "", since: "", failures: false }, null, 50)).toBe("order=desc&limit=50");
    const q = new URLSearchParams(auditQuery({ action: " /api/users ", since: "2026-01-01T00:00:00.000Z", failures: true }, 120, 50));
    expect(q.get("after_seq")).toBe("120");
    expect(q.get("action")).toBe("/api/users");
    expect(q.get("since")).toBe("2026-01-01T00:00:00.000Z");
    expect(q.get("failures")).toBe("true");
  });
});

describe("chainVerdict", () => {
  it("says intact with the count, or where it broke and why", () => {
    expect(chainVerdict({ ok: true, entries: 42, head_hash: "abcdef0123456789" }).text).toBe("Chain intact: 42 entries verified, head abcdef012345…");
    const broken = chainVerdict({ ok: false, entries: 42, head_hash: "", first_broken_seq: 7, problem: "hash mismatch" });
    expect(broken).toEqual({ ok: false, text: "Chain broken at entry #7: hash mismatch" });
  });
});
