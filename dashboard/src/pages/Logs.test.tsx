import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { list, summary } from "../test/fixtures";
import { mockFetch, renderAt } from "../test/render";
import { LogsPage } from "./Logs";

const rows = [
  summary({ id: "a", ticket_id: "1001" }),
  summary({ id: "b", ticket_id: "1002", status: "FAILED", workflow_error_type: "TimeoutError", workflow_error_node: "retriever" }),
  summary({ id: "c", ticket_id: "1003" }),
];

afterEach(() => vi.unstubAllGlobals());

function listCalls(calls: URL[]) {
  // The live probe (cursor=, page_size=1) is not the list query.
  return calls.filter((u) => u.pathname === "/api/v1/logs" && !u.searchParams.has("cursor"));
}

describe("Logs page", () => {
  it("sends the filters in the URL to the API", async () => {
    const calls = mockFetch(() => ({ body: list(rows, 120) }));
    renderAt("/logs?status=FAILED,ERROR&q=timeout&confidence_max=0.5&ordering=-execution_time_seconds&page=2", "/logs", <LogsPage />);
    expect(await screen.findByText("1002")).toBeInTheDocument();
    const query = listCalls(calls)[0].searchParams;
    expect(Object.fromEntries(query)).toEqual({
      status: "FAILED,ERROR",
      q: "timeout",
      "metrics.overall_confidence__lte": "0.5",
      ordering: "-execution_time_seconds",
      page: "2",
      page_size: "50",
    });
    expect(screen.getByTestId("list-total")).toHaveTextContent("120 logs");
    expect(screen.getByTestId("page-label")).toHaveTextContent("Page 2 of 3");
  });

  it("puts a changed filter in the URL, back on page 1, and refetches", async () => {
    const calls = mockFetch(() => ({ body: list(rows) }));
    renderAt("/logs?page=3", "/logs", <LogsPage />);
    await screen.findByText("1001");
    await userEvent.click(screen.getByRole("button", { name: "ERROR" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/logs?status=ERROR"));
    await waitFor(() => expect(listCalls(calls).at(-1)?.searchParams.get("status")).toBe("ERROR"));
    expect(listCalls(calls).at(-1)?.searchParams.get("page")).toBe("1");

    await userEvent.type(screen.getByRole("searchbox"), "refund{Enter}");
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/logs?q=refund&status=ERROR"));
  });

  it("sorts by duration from the column header", async () => {
    mockFetch(() => ({ body: list(rows) }));
    renderAt("/logs", "/logs", <LogsPage />);
    await screen.findByText("1001");
    await userEvent.click(screen.getByRole("button", { name: /Duration/ }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("ordering=-execution_time_seconds"));
    await userEvent.click(screen.getByRole("button", { name: /Duration/ }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("ordering=execution_time_seconds"));
  });

  it("links the CSV export to the same filters", async () => {
    mockFetch(() => ({ body: list(rows) }));
    renderAt("/logs?category=billing_issue&needs_more_info=true&page=2", "/logs", <LogsPage />);
    await screen.findByText("1001");
    expect(screen.getByTestId("export-csv")).toHaveAttribute(
      "href",
      "/api/v1/logs/export?format=csv&category=billing_issue&metrics.needs_more_info=true&ordering=-executed_at",
    );
  });

  it("moves through rows with the keyboard and opens one with Enter", async () => {
    mockFetch(() => ({ body: list(rows) }));
    renderAt("/logs", "/logs", <LogsPage />);
    await screen.findByText("1001");
    const [first, second, third] = screen.getAllByTestId("log-row");
    first.focus();
    fireEvent.keyDown(first, { key: "ArrowDown" });
    expect(second).toHaveFocus();
    fireEvent.keyDown(second, { key: "j" });
    expect(third).toHaveFocus();
    fireEvent.keyDown(third, { key: "ArrowDown" });
    expect(third).toHaveFocus(); // stays on the last row
    fireEvent.keyDown(third, { key: "k" });
    expect(second).toHaveFocus();
    fireEvent.keyDown(second, { key: "Enter" });
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/logs/b"));
  });

  it("shows an empty state and an error state", async () => {
    mockFetch(() => ({ body: list([]) }));
    const { unmount } = renderAt("/logs?status=ERROR", "/logs", <LogsPage />);
    expect(await screen.findByText("No logs match these filters.")).toBeInTheDocument();
    unmount();
    mockFetch(() => ({ status: 400, body: { error: { code: "validation_error", message: "Invalid input: start_date", details: { start_date: ["Not a date."] } } } }));
    renderAt("/logs?start_date=nope", "/logs", <LogsPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Invalid input: start_date (start_date: Not a date.)");
  });

  it("shows token and cost columns only when a run on the page has them", async () => {
    mockFetch(() => ({ body: list(rows) }));
    const first = renderAt("/logs", "/logs", <LogsPage />);
    expect(await screen.findByText("1002")).toBeInTheDocument();
    expect(screen.queryByRole("columnheader", { name: "Tokens" })).not.toBeInTheDocument();
    first.unmount();
    vi.unstubAllGlobals();
    const otel = summary({ id: "o", ticket_id: "T-9", metrics: { total_tokens: 1670, cost: 0.0045 } });
    mockFetch(() => ({ body: list([otel, ...rows]) }));
    renderAt("/logs", "/logs", <LogsPage />);
    expect(await screen.findByText("T-9")).toBeInTheDocument();
    expect(screen.getByRole("columnheader", { name: "Tokens" })).toBeInTheDocument();
    expect(screen.getByRole("columnheader", { name: "Cost" })).toBeInTheDocument();
    expect(screen.getAllByTestId("tokens-cell").map((c) => c.textContent)).toEqual(["1,670", "—", "—", "—"]);
    expect(screen.getByText("0.0045")).toBeInTheDocument();
  });
});
