import { describe, expect, it } from "vitest";
import { featureValue } from "./featureValue";

describe("featureValue", () => {
  it("shows what the model read, with the form's units and words", () => {
    expect(featureValue("hr", 128)).toBe("128/min");
    expect(featureValue("bt", 37.94)).toBe("37.9 °C");
    expect(featureValue("sbp", 92)).toBe("92 mmHg");
    expect(featureValue("shock_index", 1.3913)).toBe("1.39");
    expect(featureValue("mental", 2)).toBe("responds to voice");
    expect(featureValue("news2_vitals", 7)).toBe("7");
  });
});
