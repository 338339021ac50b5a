// @vitest-environment node
import { describe, expect, it } from "vitest";
import { rangeParams, readRange, writeRange } from "./range";

describe("date ranges", () => {
  const now = new Date("2025-03-10T09:30:00Z");

  it("uses days for the day presets", () => {
    expect(rangeParams(readRange(new URLSearchParams("range=30d&env=production")), now)).toEqual({ params: { days: 30, environment: ["production"] }, interval: "day" });
  });

  it("uses a rolling window with hourly buckets for 24 h", () => {
    expect(rangeParams(readRange(new URLSearchParams("range=24h")), now)).toEqual({
      params: { start_date: "2025-03-09T09:30:00Z", end_date: "2025-03-10T09:30:00Z" },
      interval: "hour",
    });
  });

  it("passes a custom range through, hourly when it is short", () => {
    expect(rangeParams(readRange(new URLSearchParams("range=custom&from=2025-01-01&to=2025-01-31")), now).interval).toBe("day");
    expect(rangeParams(readRange(new URLSearchParams("range=custom&from=2025-01-01&to=2025-01-02")), now)).toEqual({
      params: { start_date: "2025-01-01", end_date: "2025-01-02" },
      interval: "hour",
    });
  });

  it("defaults to 7 days, also for a custom range without valid dates", () => {
    expect(readRange(new URLSearchParams("")).preset).toBe("7d");
    expect(readRange(new URLSearchParams("range=custom&from=yesterday")).preset).toBe("7d");
  });

  it("writes the range into the URL, keeping other parameters", () => {
    const next = writeRange(new URLSearchParams("category=x&from=old"), { preset: "90d", from: "", to: "", environment: "" });
    expect(next.toString()).toBe("category=x&range=90d");
  });
});
