import { screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { detail } from "../test/fixtures";
import { mockFetch, renderAt } from "../test/render";
import { LogDetailPage } from "./LogDetail";

afterEach(() => vi.unstubAllGlobals());

describe("Log detail page", () => {
  it("shows the header, a prominent error and the metrics table", async () => {
    const log = detail({
      status: "FAILED",
      workflow_error: "TimeoutError: the retriever took too long.",
      workflow_error_type: "TimeoutError",
      workflow_error_node: "retriever",
      metrics: { overall_confidence: 0.41, needs_more_info: true, plan_steps: 4 },
    });
    const calls = mockFetch(() => ({ body: log }));
    renderAt("/logs/abc", "/logs/:id", <LogDetailPage />);
    expect(await screen.findByTestId("detail-ticket")).toHaveTextContent("Ticket 4242");
    expect(calls[0].pathname).toBe("/api/v1/logs/abc");
    const error = screen.getByTestId("detail-error");
    expect(error).toHaveTextContent("TimeoutError");
    expect(error).toHaveTextContent("retriever");
    expect(error).toHaveTextContent("the retriever took too long");
    const metrics = within(screen.getByTestId("metrics-table"));
    expect(metrics.getByRole("rowheader", { name: "Overall confidence" }).nextSibling).toHaveTextContent("0.41");
    expect(metrics.getByRole("rowheader", { name: "Needs more info" }).nextSibling).toHaveTextContent("yes");
    expect(screen.getAllByTestId("react-step")).toHaveLength(3);
  });

  it("notes how many values were redacted and styles the markers", async () => {
    const log = detail({
      status: "FAILED",
      workflow_error: "401 for [redacted:email]: Bearer [redacted:bearer]",
      scrubbed: { email: 2, bearer: 1, "key:password": 1 },
      metadata: { customer: "[email:0123456789abcdef]", "[redacted:email]": "primary" },
    });
    mockFetch(() => ({ body: log }));
    renderAt("/logs/abc", "/logs/:id", <LogDetailPage />);
    expect(await screen.findByTestId("scrubbed-note")).toHaveTextContent("4 values redacted before storage (email 2, bearer 1, key:password 1)");
    const markers = within(screen.getByTestId("detail-error")).getAllByTestId("redacted-marker");
    expect(markers.map((m) => m.textContent)).toEqual(["[redacted:email]", "[redacted:bearer]"]);
    expect(screen.getByTestId("detail-error")).toHaveTextContent("401 for [redacted:email]: Bearer [redacted:bearer]");
    const texts = screen.getAllByTestId("redacted-marker").map((m) => m.textContent);
    expect(texts).toContain("[email:0123456789abcdef]");
    expect(texts.filter((t) => t === "[redacted:email]").length).toBeGreaterThanOrEqual(2); // the key too
  });

  it("shows no note for a log stored without scrubbing or with nothing found", async () => {
    mockFetch(() => ({ body: detail({ scrubbed: {} }) }));
    renderAt("/logs/abc", "/logs/:id", <LogDetailPage />);
    await screen.findByTestId("detail-ticket");
    expect(screen.queryByTestId("scrubbed-note")).toBeNull();
  });

  it("says so when the log is not ours (404)", async () => {
    mockFetch(() => ({ status: 404, body: { error: { code: "not_found", message: "Not found.", details: {} } } }));
    renderAt("/logs/other-tenants-id", "/logs/:id", <LogDetailPage />);
    expect(await screen.findByText("No such log.")).toBeInTheDocument();
  });

  it("renders a log whose every JSON field has an odd shape", async () => {
    mockFetch(() => ({ body: detail({ payload: [1, 2] as unknown as Record<string, unknown>, metrics: null as unknown as Record<string, unknown>, metadata: null, extra: {} }) }));
    renderAt("/logs/abc", "/logs/:id", <LogDetailPage />);
    expect(await screen.findByTestId("detail-ticket")).toBeInTheDocument();
    expect(screen.getByText("No metrics.")).toBeInTheDocument();
    expect(screen.getByText("This run has no trace.")).toBeInTheDocument();
  });
});
