import { screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Overview } from "../api/types";
import { mockFetch, renderAt } from "../test/render";
import { OverviewPage } from "./Overview";

afterEach(() => vi.unstubAllGlobals());

const figures = {
  total_tickets: 1500,
  success_rate: 94.5,
  avg_execution_time: 4.8,
  error_count: 82,
  status_counts: { SUCCESS: 1418, PARTIAL: 0, FAILED: 60, ERROR: 22 },
  p50_execution_time: 4.1,
  p95_execution_time: 9.25,
  period_start: "2025-03-04T00:00:00Z",
  period_end: "2025-03-10T09:30:00Z",
};
const overview: Overview = {
  ...figures,
  period_days: 7,
  previous: { ...figures, total_tickets: 1200, success_rate: 96, avg_execution_time: 4.8, error_count: 100, p95_execution_time: 8.5, status_counts: { SUCCESS: 1152, PARTIAL: 0, FAILED: 40, ERROR: 8 } },
};

describe("Overview page", () => {
  it("shows the API's figures with their change against the previous period", async () => {
    const calls = mockFetch((url) => {
      if (url.pathname.endsWith("/overview")) return { body: overview };
      if (url.pathname.endsWith("/timeseries")) return { body: { data: [], interval: "day" } };
      if (url.pathname.endsWith("/errors")) return { body: { data: [{ workflow_error_type: "TimeoutError", workflow_error_node: "retriever", count: 40, latest_log_id: "x", latest_executed_at: null, latest_message: "TimeoutError: slow" }] } };
      return { body: { data: [], pagination: {} } };
    });
    renderAt("/overview?range=30d&env=production", "/overview", <OverviewPage />);
    expect(await screen.findByTestId("kpi-tickets-value")).toHaveTextContent("1,500");
    // 1500 vs 1200: +25%; 94.5 vs 96: −1.5 points; 82 vs 100 errors: −18%; p95 9.25 vs 8.5: +8.8%.
    expect(screen.getByTestId("kpi-tickets")).toHaveTextContent("▲ +25.0%");
    expect(screen.getByTestId("kpi-tickets")).toHaveTextContent("vs previous 30 days");
    expect(screen.getByTestId("kpi-success")).toHaveTextContent("94.5%");
    expect(screen.getByTestId("kpi-success")).toHaveTextContent("−1.5 pp");
    expect(screen.getByTestId("kpi-avg")).toHaveTextContent("no change");
    expect(screen.getByTestId("kpi-p95")).toHaveTextContent("+8.8%");
    expect(screen.getByTestId("kpi-errors")).toHaveTextContent("−18.0%");
    expect(screen.getByTestId("status-FAILED")).toHaveTextContent("60");
    expect(screen.getByTestId("errors-table")).toHaveTextContent("TimeoutError");
    const overviewCall = calls.find((u) => u.pathname.endsWith("/overview"))!;
    expect(Object.fromEntries(overviewCall.searchParams)).toEqual({ days: "30", environment: "production" });
    expect(calls.find((u) => u.pathname.endsWith("/timeseries"))!.searchParams.get("interval")).toBe("day");
  });

  it("keeps the KPIs when another panel's request fails", async () => {
    mockFetch((url) => {
      if (url.pathname.endsWith("/overview")) return { body: overview };
      if (url.pathname.endsWith("/errors")) return { status: 503, body: { error: { code: "database_unavailable", message: "The database is unavailable; retry later.", details: {} } } };
      return { body: { data: [], interval: "day" } };
    });
    renderAt("/overview", "/overview", <OverviewPage />);
    expect(await screen.findByTestId("kpi-tickets-value")).toHaveTextContent("1,500");
    expect(await screen.findByRole("alert")).toHaveTextContent("The database is unavailable; retry later.");
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("shows an empty state for a period without tickets", async () => {
    const empty = { ...overview, total_tickets: 0, previous: { ...overview.previous, total_tickets: 0 } };
    mockFetch((url) => ({ body: url.pathname.endsWith("/overview") ? empty : { data: [] } }));
    renderAt("/overview", "/overview", <OverviewPage />);
    expect(await screen.findByText("No tickets in this period.")).toBeInTheDocument();
  });

  it("shows tokens and cost of OpenTelemetry runs only when the period has some", async () => {
    const usage = { runs: 12, input_tokens: 90_000, output_tokens: 10_000, total_tokens: 100_000, cost: 0.5, period_start: "", period_end: "", period_days: 7,
                    previous: { runs: 10, input_tokens: 70_000, output_tokens: 10_000, total_tokens: 80_000, cost: null, period_start: "", period_end: "" } };
    const calls = mockFetch((url) => {
      if (url.pathname.endsWith("/overview")) return { body: overview };
      if (url.pathname.endsWith("/usage")) return { body: usage };
      return { body: { data: [], interval: "day" } };
    });
    renderAt("/overview?range=7d", "/overview", <OverviewPage />);
    expect(await screen.findByTestId("kpi-tokens-value")).toHaveTextContent("100,000");
    expect(screen.getByTestId("kpi-tokens")).toHaveTextContent("+25.0%");
    expect(screen.getByTestId("kpi-cost-value")).toHaveTextContent("0.5000");
    expect(Object.fromEntries(calls.find((u) => u.pathname.endsWith("/usage"))!.searchParams)).toEqual({ days: "7" });
  });

  it("shows no usage cards for a tenant without OpenTelemetry runs", async () => {
    const none = { runs: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: null, period_start: "", period_end: "", period_days: 7,
                   previous: { runs: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: null, period_start: "", period_end: "" } };
    mockFetch((url) => ({ body: url.pathname.endsWith("/overview") ? overview : url.pathname.endsWith("/usage") ? none : { data: [], interval: "day" } }));
    renderAt("/overview?range=7d", "/overview", <OverviewPage />);
    expect(await screen.findByTestId("kpi-tickets-value")).toBeInTheDocument();
    expect(screen.queryByTestId("kpi-tokens")).not.toBeInTheDocument();
    expect(screen.queryByTestId("kpi-cost")).not.toBeInTheDocument();
  });
});
