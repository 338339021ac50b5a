import { describe, expect, it } from "vitest";
import { describeRule, formatAlertValue, formatWindow, isSnoozed, logsRoute } from "./describe";

const base = { threshold: 20, window_minutes: 15, operator: "gte" as const, metric: null, min_runs: 10, statuses: undefined, error_type: null, error_node: null };

describe("alert rule descriptions", () => {
  it("reads each kind as a sentence", () => {
    expect(describeRule({ ...base, kind: "error_rate" })).toBe("error rate ≥ 20% over 15 min (at least 10 runs)");
    expect(describeRule({ ...base, kind: "error_count", threshold: 3, error_type: "TimeoutError", error_node: "crm" })).toBe(
      "FAILED/ERROR runs of TimeoutError @ crm ≥ 3 over 15 min",
    );
    expect(describeRule({ ...base, kind: "duration_p95", threshold: 12.5, window_minutes: 60 })).toBe("p95 duration ≥ 12.5 s over 1 h");
    expect(describeRule({ ...base, kind: "metric_avg", metric: "hallucination_risk", operator: "gt", threshold: 0.4 })).toBe(
      "average metrics.hallucination_risk > 0.4 over 15 min",
    );
    expect(describeRule({ ...base, kind: "no_data", window_minutes: 1440 })).toBe("no run over 1 d");
  });

  it("formats values with their unit", () => {
    expect(formatAlertValue("error_rate", 66.6667)).toBe("66.667%");
    expect(formatAlertValue("no_data", 0)).toBe("0 runs");
    expect(formatAlertValue("metric_avg", null)).toBe("—");
    expect(formatWindow(90)).toBe("90 min");
  });

  it("turns a notification link into a dashboard route", () => {
    expect(logsRoute("https://logs.example.com/dashboard/acme/logs?status=FAILED%2CERROR&start_date=x")).toBe("/logs?status=FAILED%2CERROR&start_date=x");
    // stored before the client was in the link
    expect(logsRoute("https://logs.example.com/dashboard/logs?status=FAILED%2CERROR&start_date=x")).toBe("/logs?status=FAILED%2CERROR&start_date=x");
  });

  it("knows whether a rule is snoozed", () => {
    expect(isSnoozed({ snoozed_until: "2030-01-01T00:00:00Z" }, Date.parse("2029-01-01T00:00:00Z"))).toBe(true);
    expect(isSnoozed({ snoozed_until: "2020-01-01T00:00:00Z" })).toBe(false);
    expect(isSnoozed({ snoozed_until: null })).toBe(false);
  });
});
