import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { list, summary } from "../test/fixtures";
import { mockFetch, renderAt } from "../test/render";
import { LogsPage, matchedStep } from "./Logs";

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

  it("shows each search hit's field and snippet with its words marked, and opens the run on its step", async () => {
    const hit = {
      ...summary({ id: "a", ticket_id: "1001" }),
      match: { field: "payload.trace.react_iterations[2].thought", snippet: "…the customer says the Straße is closed", highlights: [[23, 29]] },
    };
    mockFetch(() => ({ body: list([hit]) }));
    renderAt("/logs?q=strasse", "/logs", <LogsPage />);
    const snippet = await screen.findByTestId("log-snippet");
    expect(snippet).toHaveTextContent("payload.trace.react_iterations[2].thought:");
    expect(snippet.querySelector("mark")).toHaveTextContent(/^Straße$/);
    await userEvent.click(screen.getByText("1001"));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/logs/a?highlight=Stra%C3%9Fe&step=2"));
  });

  it("pages a search by cursor: Next continues where the page ended, Previous returns", async () => {
    const pages: Record<string, { rows: typeof rows; next: string | null }> = {
      "": { rows: [summary({ id: "a", ticket_id: "1001" }), summary({ id: "b", ticket_id: "1002" })], next: "c2" },
      c2: { rows: [summary({ id: "c", ticket_id: "1003" }), summary({ id: "d", ticket_id: "1004" })], next: "c3" },
      c3: { rows: [summary({ id: "e", ticket_id: "1005" })], next: null },
    };
    const calls = mockFetch((url) => {
      const page = pages[url.searchParams.get("cursor") ?? ""] ?? pages[""];
      return { body: { data: page.rows, pagination: { page: null, page_size: 2, total: null, pages: null, total_is_exact: false, next_cursor: page.next } } };
    });
    const searches = () => calls.filter((u) => u.pathname === "/api/v1/logs" && u.searchParams.get("page_size") === "25");
    renderAt("/logs?q=refund&page_size=25", "/logs", <LogsPage />);
    expect(await screen.findByText("1001")).toBeInTheDocument();
    // The first page of a search is cursor mode too: no page number for the server to skip to.
    expect(Object.fromEntries(searches()[0].searchParams)).toEqual({ q: "refund", ordering: "-executed_at", cursor: "", page_size: "25" });
    expect(screen.getByTestId("list-total")).toHaveTextContent("Matches 1–2, more on the next page");

    await userEvent.click(screen.getByRole("button", { name: "Next →" }));
    expect(await screen.findByText("1003")).toBeInTheDocument();
    expect(searches().at(-1)?.searchParams.get("cursor")).toBe("c2");
    expect(searches().at(-1)?.searchParams.has("page")).toBe(false);
    expect(screen.getByTestId("location")).toHaveTextContent("/logs?q=refund&page=2&page_size=25&cursor=c2");
    expect(screen.getByTestId("page-label")).toHaveTextContent("Page 2");

    await userEvent.click(screen.getByRole("button", { name: "Next →" }));
    expect(await screen.findByText("1005")).toBeInTheDocument();
    expect(screen.getByTestId("list-total")).toHaveTextContent("Matches 51–51");
    expect(screen.getByRole("button", { name: "Next →" })).toBeDisabled();

    await userEvent.click(screen.getByRole("button", { name: "← Previous" }));
    expect(await screen.findByText("1003")).toBeInTheDocument();
    expect(searches().at(-1)?.searchParams.get("cursor")).toBe("c2");
    await userEvent.click(screen.getByRole("button", { name: "← Previous" }));
    expect(await screen.findByText("1001")).toBeInTheDocument();
    expect(screen.getByTestId("location")).toHaveTextContent(/\/logs\?q=refund&page_size=25$/);
    expect(searches().at(-1)?.searchParams.get("cursor")).toBe("");
  });

  it("opened from a link deep in a search (no earlier cursors), Previous goes to the newest matches", async () => {
    const calls = mockFetch((url) => ({ body: { data: url.searchParams.get("cursor") ? [summary({ id: "z", ticket_id: "9009" })] : rows,
      pagination: { page: null, page_size: 50, total: null, pages: null, total_is_exact: false, next_cursor: null } } }));
    renderAt("/logs?q=refund&page=4&cursor=c4", "/logs", <LogsPage />);
    expect(await screen.findByText("9009")).toBeInTheDocument();
    expect(screen.getByTestId("list-total")).toHaveTextContent("Matches 151–151");
    await userEvent.click(screen.getByRole("button", { name: "← Previous" }));
    expect(await screen.findByText("1001")).toBeInTheDocument();
    expect(screen.getByTestId("list-total")).toHaveTextContent("3 logs"); // the first page is the last
    expect(screen.getByTestId("location")).toHaveTextContent(/\/logs\?q=refund$/);
    expect(calls.filter((u) => u.pathname === "/api/v1/logs" && u.searchParams.get("page_size") === "50").at(-1)?.searchParams.get("cursor")).toBe("");
  });

  it("shows a too broad search's message next to the search box, not as an outage", async () => {
    const message = "This search took too long: narrow the date range (start_date, end_date) or use rarer or more words, then try again.";
    mockFetch((url) => url.searchParams.has("q")
      ? { status: 422, body: { error: { code: "search_too_broad", message, details: {} } } }
      : { body: list(rows) });
    renderAt("/logs?q=the", "/logs", <LogsPage />);
    const alert = await screen.findByTestId("search-error");
    expect(alert).toHaveTextContent(message);
    expect(screen.getByRole("searchbox")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByText(/database is unavailable/i)).not.toBeInTheDocument();
  });

  it("finds the trace step in a match's field", () => {
    expect(matchedStep("payload.trace.react_iterations[16].observation")).toBe(16);
    expect(matchedStep("payload.trace[3].output")).toBe(3);
    expect(matchedStep("payload.final_response")).toBeNull();
    expect(matchedStep(undefined)).toBeNull();
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

  it("exports the same filters with progress, then saves the file", async () => {
    const csv = "id,ticket_id\n" + Array.from({ length: 3 }, (_, i) => `x${i},T${i}`).join("\n") + "\n";
    const calls = mockFetch(() => ({ body: list(rows) }));
    const fetchList = globalThis.fetch;
    vi.stubGlobal("fetch", vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url, "http://localhost");
      if (!url.pathname.endsWith("/export")) return fetchList(input, init);
      calls.push(url);
      return new Response(csv, { headers: { "Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="logs-alice-x.csv"' } });
    }));
    const created = vi.fn(() => "blob:x");
    // jsdom has no object URLs: these two stand in for the browser's.
    Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() });
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => undefined);
    renderAt("/logs?category=billing_issue&needs_more_info=true&page=2", "/logs", <LogsPage />);
    await screen.findByText("1001");
    await userEvent.click(screen.getByTestId("export-csv"));
    await waitFor(() => expect(created).toHaveBeenCalledTimes(1));
    const exported = calls.find((u) => u.pathname === "/api/v1/logs/export")!;
    expect(exported.search).toBe("?format=csv&category=billing_issue&metrics.needs_more_info=true&ordering=-executed_at");
    const blob = (created.mock.calls[0] as unknown as [Blob])[0];
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(blob);
    });
    expect(text).toBe(csv);
    expect(clicked).toHaveBeenCalledTimes(1); // the download, under the server's file name
    expect((clicked.mock.contexts[0] as HTMLAnchorElement).download).toBe("logs-alice-x.csv");
    clicked.mockRestore();
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
    mockFetch(() => ({ status: 400, body: { error: { code: "validation_error", message: "Invalid input: metrics.overall_confidence__gte", details: { "metrics.overall_confidence__gte": ["Must be a number."] } } } }));
    renderAt("/logs?confidence_min=high", "/logs", <LogsPage />);
    // Named as the page names the field, and no "Try again": the same request fails the same way.
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("A filter is not valid.");
    expect(alert).toHaveTextContent("Confidence ≥: Must be a number.");
    expect(alert).not.toHaveTextContent("metrics.overall_confidence__gte");
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
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
