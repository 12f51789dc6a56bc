import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { VitalTile } from "./VitalTile";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const at = (msAgo: number) => new Date(NOW - msAgo).toISOString();

afterEach(cleanup);

function tile(news2: number | null, msAgo = 5_000, band?: string) {
  render(
    <VitalTile
      label="P1"
      reading={{ ts: at(msAgo), hr: 123, spo2: 91, rr: 24, sbp: 95, dbp: 60, temp: 38.4, news2, band: band ?? null }}
      trend={[100, 110, 123]}
      now={NOW}
    />,
  );
  return screen.getByTestId("vital-tile");
}

describe("VitalTile", () => {
  it.each([
    [0, "band-low", "Low risk"],
    [4, "band-low", "Low risk"],
    [5, "band-medium", "Medium risk"],
    [6, "band-medium", "Medium risk"],
    [7, "band-high", "High risk"],
    [12, "band-high", "High risk"],
  ])("colours NEWS2 %i as %s and names the band in text", (score, cls, text) => {
    const el = tile(score);
    expect(el.className).toContain(cls);
    expect(screen.getByTestId("band").textContent).toBe(`NEWS2 ${score} — ${text}`);
  });

  it("uses the band the server computed (a single red parameter makes 3 low-medium)", () => {
    const el = tile(3, 5_000, "low_medium");
    expect(el.className).toContain("band-low-medium");
    expect(screen.getByTestId("band").textContent).toContain("Low–medium risk");
  });

  it("shows the current values while the reading is fresh", () => {
    tile(7);
    expect(screen.getByText("123")).toBeTruthy();
    expect(screen.getByText("95/60")).toBeTruthy();
    expect(screen.getByText("38.4")).toBeTruthy();
    expect(screen.queryByTestId("stale")).toBeNull();
  });

  it("says how long there has been no data and never shows the old values as current", () => {
    const el = tile(9, 2 * 60_000 + 10_000);
    expect(screen.getByTestId("stale").textContent).toBe("No data for 2 min");
    expect(el.className).toContain("tile-stale");
    expect(el.className).not.toContain("band-high");
    expect(screen.queryByText("123")).toBeNull();
    expect(screen.queryByText("95/60")).toBeNull();
    expect(screen.queryByTestId("band")).toBeNull();
  });

  it("says when no reading has ever arrived", () => {
    render(<VitalTile label="P2" reading={null} trend={[]} now={NOW} />);
    expect(screen.getByTestId("stale").textContent).toBe("No data received");
  });

  it("shows a child's PEWS and never a NEWS2 beside it", () => {
    render(
      <VitalTile
        label="Child"
        reading={{ ts: at(5_000), hr: 165, spo2: 90, rr: 48, pews: 7, band: "medium", news2: null }}
        trend={[]}
        now={NOW}
      />,
    );
    expect(screen.getByTestId("band").textContent).toBe("PEWS 7 (child) — Medium risk");
    expect(screen.getByTestId("vital-tile").textContent).not.toContain("NEWS2");
  });

  it("shows a probable artefact as such, with its value, instead of hiding it", () => {
    render(
      <VitalTile
        label="P3"
        reading={{ ts: at(5_000), hr: 0, spo2: 97, news2: 1, band: "low", artefacts: [{ field: "hr", kind: "lead_off" }] }}
        trend={[]}
        now={NOW}
      />,
    );
    expect(screen.getByTestId("artefacts").textContent).toContain("HR (lead off)");
    const value = screen.getByText("0");
    expect(value.className).toBe("artefact");
    expect(value.getAttribute("title")).toBe("Probable artefact: lead off");
  });
});

describe("VitalTile risk", () => {
  const risk = {
    patient_id: "p1",
    ts: at(5_000),
    probability: 0.27,
    previous: 0.21,
    trend: "rising" as const,
    hours_observed: 2.5,
    model_version: "deterioration-x",
  };

  it("shows the live deterioration risk and its trend beside NEWS2", () => {
    render(
      <VitalTile label="P1" reading={{ ts: at(5_000), hr: 120, news2: 6 }} trend={[]} now={NOW} risk={risk} />,
    );
    expect(screen.getByTestId("band").textContent).toContain("NEWS2 6");
    expect(screen.getByTestId("risk").textContent).toBe("Deterioration risk 27% ↑ rising (was 21%)");
    expect(screen.queryByTestId("risk-trend")).toBeNull(); // one score is no trend line
  });

  it("draws the risk's recent scores as a trend line", () => {
    render(
      <VitalTile
        label="P1"
        reading={{ ts: at(5_000), hr: 120, news2: 6 }}
        trend={[]}
        now={NOW}
        risk={risk}
        riskTrend={[0.18, 0.21, 0.27]}
      />,
    );
    expect(screen.getByRole("img", { name: "Deterioration risk trend for P1" })).toBeTruthy();
  });

  it("never shows the adult model's risk on a child's tile", () => {
    render(<VitalTile label="P1" reading={{ ts: at(5_000), hr: 150, pews: 5 }} trend={[]} now={NOW} risk={risk} />);
    expect(screen.queryByTestId("risk")).toBeNull();
  });
});
