import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { detail, otelTrace } from "../test/fixtures";
import { mockFetch, renderAt } from "../test/render";
import { LogDetailPage } from "../pages/LogDetail";

afterEach(() => vi.unstubAllGlobals());

const otelLog = detail({
  id: "0193f0c2-0000-7000-8000-0000000000aa", status: "FAILED", payload: { otel: { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", root_span_id: "a000000000000001" } },
  workflow_error_type: "RefundError", workflow_error_node: "chat gpt-4o-mini", workflow_error: "Refund limit exceeded",
  metrics: { input_tokens: 1500, output_tokens: 170, llm_calls: 2, cost: 0.0045 },
});

function serve() {
  return mockFetch((url) => ({ body: url.pathname.endsWith("/trace") ? otelTrace() : otelLog }));
}

describe("Trace waterfall of an OpenTelemetry run", () => {
  it("draws the span tree with durations, status, model and tokens", async () => {
    const calls = serve();
    renderAt("/logs/x", "/logs/:id", <LogDetailPage />);
    const rows = await screen.findAllByTestId("span-row");
    expect(calls.map((c) => c.pathname)).toContain("/api/v1/logs/0193f0c2-0000-7000-8000-0000000000aa/trace");
    expect(rows.map((r) => within(r).getAllByRole("button").at(-1)?.textContent)).toEqual([
      "handle ticket", "chat gpt-4o", "execute_tool crm_lookup", "chat gpt-4o-mini",
    ]);
    expect(rows[1]).toHaveTextContent("gpt-4o-2024-08-06 · 1,200 in / 150 out");
    expect(rows[1]).toHaveTextContent("900 ms");
    expect(rows[0]).toHaveTextContent("2.00 s");
    expect(within(rows[3]).getByText("error")).toBeInTheDocument();
    expect(screen.queryByText("Reasoning steps (ReAct)")).not.toBeInTheDocument();
    expect(screen.getByText(/4 spans over 2.00 s, 2 log records/)).toBeInTheDocument();
    expect(screen.getByText("trace-level note")).toBeInTheDocument(); // not attached to a span
  });

  it("opens a span's attributes, events, messages and log records on click", async () => {
    serve();
    renderAt("/logs/x", "/logs/:id", <LogDetailPage />);
    fireEvent.click(await screen.findByRole("button", { name: "chat gpt-4o" }));
    const messages = within(screen.getByTestId("genai-messages"));
    expect(messages.getByText("Where is my refund?")).toBeInTheDocument();
    expect(messages.getByText("It was sent on Monday.")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "chat gpt-4o-mini" }));
    const failing = within(screen.getByTestId("span-detail"));
    expect(failing.getByText("exception")).toBeInTheDocument();
    expect(failing.getByText("RefundError")).toBeInTheDocument();
    expect(failing.getByText(/error: Refund limit exceeded/)).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "execute_tool crm_lookup" }));
    expect(within(screen.getByTestId("span-detail")).getByText("Looked up 3 orders")).toBeInTheDocument();
  });

  it("collapses a subtree", async () => {
    serve();
    renderAt("/logs/x", "/logs/:id", <LogDetailPage />);
    fireEvent.click(await screen.findByRole("button", { name: "Collapse handle ticket" }));
    expect(screen.getAllByTestId("span-row")).toHaveLength(1);
    fireEvent.click(screen.getByRole("button", { name: "Expand handle ticket" }));
    expect(screen.getAllByTestId("span-row")).toHaveLength(4);
  });

  it("says so when the trace cannot be loaded, and keeps the rest of the page", async () => {
    mockFetch((url) => url.pathname.endsWith("/trace")
      ? { status: 503, body: { error: { code: "database_unavailable", message: "The database is unavailable; retry later.", details: {} } } }
      : { body: otelLog });
    renderAt("/logs/x", "/logs/:id", <LogDetailPage />);
    expect(await screen.findByText(/database is unavailable/)).toBeInTheDocument();
    expect(screen.getByTestId("detail-ticket")).toBeInTheDocument();
    expect(screen.getByTestId("metrics-table")).toHaveTextContent("1,500");
  });
});
