// @vitest-environment node
import { describe, expect, it } from "vitest";
import { kpiChange } from "./kpi";

describe("kpiChange", () => {
  it("gives a relative change for counts", () => {
    // 120 vs 100 tickets: +20%; tickets are neither good nor bad.
    expect(kpiChange(120, 100, { unit: "percent", direction: "neutral" })).toEqual({ label: "+20.0%", delta: 20, tone: "neutral", arrow: "▲" });
  });

  it("marks fewer errors as good and more as bad", () => {
    // 30 vs 40 errors: (30-40)/40 = -25%.
    expect(kpiChange(30, 40, { unit: "percent", direction: "down-good" })).toMatchObject({ label: "−25.0%", tone: "good", arrow: "▼" });
    expect(kpiChange(50, 40, { unit: "percent", direction: "down-good" })).toMatchObject({ label: "+25.0%", tone: "bad" });
  });

  it("gives percentage points for rates", () => {
    // 92.5% vs 95.0%: -2.5 points, worse.
    expect(kpiChange(92.5, 95, { unit: "points", direction: "up-good" })).toEqual({ label: "−2.5 pp", delta: -2.5, tone: "bad", arrow: "▼" });
  });

  it("rounds to one decimal", () => {
    // 4.8 vs 4.5 s: +6.666…% → +6.7%, slower is bad.
    expect(kpiChange(4.8, 4.5, { unit: "percent", direction: "down-good" })).toMatchObject({ label: "+6.7%", delta: 6.7, tone: "bad" });
  });

  it("handles an empty previous period", () => {
    expect(kpiChange(10, 0, { unit: "percent", direction: "neutral" })).toMatchObject({ label: "new", delta: null });
    expect(kpiChange(0, 0, { unit: "percent", direction: "down-good" })).toMatchObject({ label: "no change", tone: "neutral" });
  });

  it("says no change when equal, and dashes for non-numbers", () => {
    expect(kpiChange(95, 95, { unit: "points", direction: "up-good" }).label).toBe("no change");
    expect(kpiChange(Number.NaN, 3, { unit: "percent", direction: "neutral" }).label).toBe("—");
  });
});

describe("kpiChange against an empty previous period", () => {
  it("shows no change at all, not +76 pp against nothing", () => {
    expect(kpiChange(76.2, 0, { unit: "points", direction: "up-good", previousEmpty: true })).toEqual({ label: "no earlier data", delta: null, tone: "neutral", arrow: "" });
    expect(kpiChange(30, 0, { unit: "percent", direction: "neutral", previousEmpty: true }).label).toBe("no earlier data");
  });
});
