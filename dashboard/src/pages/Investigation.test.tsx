import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { lazy, Suspense } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { IssuesResponse, VersionCompare } from "../api/types";
import { ClientScope } from "../client";
import { samePageOf } from "../components/Layout";
import { PageBoundary } from "../components/ui";
import { SessionContext } from "../session";
import { list, session, summary } from "../test/fixtures";
import { mockFetch, renderAt } from "../test/render";
import { IssuesPage } from "./Issues";
import { LogsPage } from "./Logs";
import { VersionsPage } from "./Versions";

afterEach(() => vi.unstubAllGlobals());

const issues: IssuesResponse = {
  data: [
    {
      fingerprint: "0123456789abcdef",
      workflow_error_type: "SchemaError",
      workflow_error_node: "react_agent",
      pattern: "tool <q> returned <q> for order <n>",
      count: 12,
      first_seen: "2025-03-10T08:00:00Z",
      last_seen: "2025-03-12T10:00:00Z",
      first_version: "v2.0",
      new_in_version: "v2.0",
      versions: [{ workflow_version: "v2.0", count: 12 }],
      trend: [0, 0, 0, 0, 3, 4, 5],
      latest: null,
    },
  ],
  total: 1,
  failing_logs: 12,
  interval: "day",
  buckets: [],
  period_days: 7,
  period_start: "2025-03-06T00:00:00Z",
  period_end: "2025-03-12T15:30:00Z",
};

describe("Error issues page", () => {
  it("asks the API with the period, sort and filters, and links each issue to its page and its runs", async () => {
    const calls = mockFetch((url) => (url.pathname.endsWith("/issues") ? { body: issues } : url.pathname.endsWith("/changes") ? { body: { token: "1.0" } } : { body: { field: "workflow_version", values: [{ value: "v2.0", count: 5 }] } }));
    renderAt("/issues?range=30d&sort=new&new_in=v2.0", "/issues", <IssuesPage />);
    const row = await screen.findByTestId("issue-row");
    expect(within(row).getByText("new in v2.0")).toBeInTheDocument();
    expect(within(row).getByRole("link", { name: "SchemaError @ react_agent" })).toHaveAttribute("href", "/alice/issues/0123456789abcdef?range=30d");
    expect(within(row).getByRole("link", { name: "12 runs →" }).getAttribute("href")).toContain("error_issue=0123456789abcdef");
    expect(within(row).getByRole("img", { name: /Trend of SchemaError/ })).toBeInTheDocument();
    const query = calls.find((u) => u.pathname.endsWith("/issues"))!.searchParams;
    expect(Object.fromEntries(query)).toMatchObject({ days: "30", sort: "new", new_in: "v2.0", interval: "day" });
    expect(screen.getByTestId("issues-total")).toHaveTextContent("1 issue, 12 failing runs");
  });
});

const compare: VersionCompare = {
  a: { workflow_version: "v1.2", count: 400, success_count: 360, success_rate: 90, error_count: 20, error_rate: 5, avg_execution_time: 4, p50_execution_time: 3.5, p95_execution_time: 9, first_seen: null, last_seen: null, sample_size: 400 },
  b: { workflow_version: "v2.0", count: 380, success_count: 300, success_rate: 78.9, error_count: 50, error_rate: 13.2, avg_execution_time: 5, p50_execution_time: 4, p95_execution_time: 11, first_seen: null, last_seen: null, sample_size: 380 },
  comparisons: [
    { metric: "success_rate", label: "Success rate", kind: "rate", a: 90, b: 78.95, n_a: 400, n_b: 380, difference: -11.05, better: "a", test: "two-proportion z-test", statistic: -4.2, p_value: 0.00002, significant: true },
    { metric: "metrics.overall_confidence", label: "overall_confidence", kind: "mean", a: 0.81, b: 0.8, n_a: 400, n_b: 380, difference: -0.01, better: null, test: "Welch's t-test", statistic: -0.5, p_value: 0.61, significant: false },
    { metric: "metrics.needs_more_info", label: "needs_more_info (share true)", kind: "rate", a: null, b: 50, n_a: 0, n_b: 2, difference: null, better: null, test: "two-proportion z-test", statistic: null, p_value: null, significant: null },
  ],
  alpha: 0.05,
  sample_limit: 5000,
  period_days: 7,
  period_start: "2025-03-06T00:00:00Z",
  period_end: "2025-03-12T15:30:00Z",
};

describe("Versions page", () => {
  it("compares the newest version with the one before, with a verdict per metric", async () => {
    const rows = ["v2.0", "v1.2"].map((v, i) => ({ ...compare[i ? "a" : "b"], workflow_version: v, first_seen: "2025-03-06T00:00:00Z", last_seen: "2025-03-12T00:00:00Z" }));
    const calls = mockFetch((url) =>
      url.pathname.endsWith("/compare") ? { body: compare } : url.pathname.endsWith("/changes") ? { body: { token: "1" } } : { body: { data: rows, period_days: 7, period_start: compare.period_start, period_end: compare.period_end } },
    );
    renderAt("/versions", "/versions", <VersionsPage />);
    const table = await screen.findByTestId("versions-compare");
    const query = calls.find((u) => u.pathname.endsWith("/compare"))!.searchParams;
    expect([query.get("a"), query.get("b")]).toEqual(["v1.2", "v2.0"]);
    const [success, confidence, needs] = within(table).getAllByTestId("comparison-row");
    expect(success).toHaveTextContent("Success rate90.0%79.0%−11.1 ppbeyond noise (p < 0.001)");
    expect(within(success).getByText(/beyond noise/)).toHaveClass("text-red-800"); // worse in B
    expect(confidence).toHaveTextContent("within noise (p = 0.610)");
    expect(needs).toHaveTextContent("too few runs to tell");
    expect(screen.getByText(/two-proportion z-test/)).toHaveTextContent("Welch's t-test");
  });

  it("links each version to its logs of the period, and the runs without a version to none", async () => {
    const rows = ["v2.0", null].map((v) => ({ ...compare.a, workflow_version: v, first_seen: "2025-03-06T00:00:00Z", last_seen: "2025-03-12T00:00:00Z" }));
    mockFetch((url) => (url.pathname.endsWith("/changes") ? { body: { token: "1" } } : url.pathname.endsWith("/compare") ? { body: compare } : { body: { data: rows, period_days: 7, period_start: compare.period_start, period_end: compare.period_end } }));
    renderAt("/versions", "/versions", <VersionsPage />);
    const [named, unnamed] = await screen.findAllByTestId("version-row");
    expect(within(named).getByRole("link", { name: "v2.0" }).getAttribute("href")).toBe(
      "/alice/logs?start_date=2025-03-06T00%3A00%3A00Z&end_date=2025-03-12T15%3A30%3A00Z&workflow_version=v2.0");
    expect(within(unnamed).getByText("(no version)").closest("a")).toBeNull();
  });
});

describe("Logs page, defects", () => {
  it("says a page past the end is past the end, and keeps a half-typed search when a chip is clicked", async () => {
    mockFetch((url) => (url.pathname.endsWith("/changes") ? { body: { token: "1" } } : { body: { ...list([], 120), pagination: { page: 9, page_size: 50, total: 120, pages: 3, total_is_exact: true, next_cursor: null } } }));
    renderAt("/logs?page=9", "/logs", <LogsPage />);
    expect(await screen.findByText("Page 9 is past the end.")).toBeInTheDocument();
    expect(screen.getByText(/120 logs on 3 pages/)).toBeInTheDocument();
    await userEvent.type(screen.getByRole("searchbox"), "half");
    await userEvent.click(screen.getByRole("button", { name: "FAILED" }));
    expect(screen.getByTestId("location")).toHaveTextContent("/logs?status=FAILED");
    expect(screen.getByRole("searchbox")).toHaveValue("half");
  });

  it("shows active filters as chips; × removes one", async () => {
    mockFetch(() => ({ body: list([summary()]) }));
    renderAt("/logs?status=FAILED&category=billing_issue&confidence_max=0.5", "/logs", <LogsPage />);
    const chips = await screen.findByTestId("filter-chips");
    expect(chips).toHaveTextContent("Status: FAILED");
    expect(chips).toHaveTextContent("Confidence ≤: 0.5");
    await userEvent.click(within(chips).getByRole("button", { name: "Remove filter Category" }));
    expect(screen.getByTestId("location")).toHaveTextContent("/logs?status=FAILED&confidence_max=0.5");
  });
});

describe("The client in the URL", () => {
  const value = { session, checking: false, signIn: vi.fn(), signOut: vi.fn(), rememberClient: vi.fn() };
  it("refuses a client that is not one of the user's, and remembers one that is", async () => {
    const remember = vi.fn();
    const { unmount } = render(
      <SessionContext.Provider value={{ ...value, rememberClient: remember }}>
        <MemoryRouter initialEntries={["/bob/overview"]}>
          <Routes>
            <Route path="/:client/*" element={<ClientScope><p>bob's page</p></ClientScope>} />
          </Routes>
        </MemoryRouter>
      </SessionContext.Provider>,
    );
    expect(screen.getByRole("heading", { name: "No access to “bob”" })).toBeInTheDocument();
    expect(screen.queryByText("bob's page")).toBeNull();
    expect(screen.getByRole("link", { name: "Alice" })).toHaveAttribute("href", "/alice/overview");
    unmount();
    const other = { ...session, current_client: { slug: "zed", name: "Zed", role: "viewer" as const } };
    render(
      <SessionContext.Provider value={{ ...value, session: other, rememberClient: remember }}>
        <MemoryRouter initialEntries={["/alice/logs"]}>
          <Routes>
            <Route path="/:client/*" element={<ClientScope><p>alice's page</p></ClientScope>} />
          </Routes>
        </MemoryRouter>
      </SessionContext.Provider>,
    );
    expect(screen.getByText("alice's page")).toBeInTheDocument();
    expect(remember).toHaveBeenCalledWith("alice");
  });

  it("switches to the same page of the other client (a list for one object's page)", () => {
    expect(samePageOf("beta", "/alpha/logs", "?status=FAILED")).toBe("/beta/logs?status=FAILED");
    expect(samePageOf("beta", "/alpha/logs/0193f0c2-0000-7000-8000-000000000001", "")).toBe("/beta/logs");
    expect(samePageOf("beta", "/alpha/issues/0123456789abcdef", "?range=30d")).toBe("/beta/issues");
    expect(samePageOf("beta", "/alpha", "")).toBe("/beta/overview");
  });
});

describe("Page error boundary", () => {
  it("offers a reload when a page's code cannot be loaded", async () => {
    const Broken = lazy(() => Promise.reject(new TypeError("Failed to fetch dynamically imported module: /static/dashboard/assets/Versions-abc.js")));
    const reload = vi.fn();
    vi.stubGlobal("location", { ...window.location, reload });
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    render(
      <PageBoundary resetKey="/alice/versions">
        <Suspense fallback={<p>loading</p>}>
          <Broken />
        </Suspense>
      </PageBoundary>,
    );
    expect(await screen.findByText("This page could not be loaded.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Reload the page" }));
    expect(reload).toHaveBeenCalled();
  });
});

describe("Latency and cost page", () => {
  it("links each day and category of the usage table to its logs for the same period", async () => {
    const usage = (group: string, rows: { group: string | null; runs: number }[]) => ({
      runs: 3, input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: null, period_days: 7,
      period_start: "2025-03-06T00:00:00Z", period_end: "2025-03-12T15:30:00Z",
      previous: { runs: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0, cost: null, period_start: "2025-02-27T00:00:00Z", period_end: "2025-03-06T00:00:00Z" },
      keys: ["total_tokens"], group, totals: { total_tokens: 30 },
      data: rows.map((row) => ({ ...row, usage: { total_tokens: { runs_with: row.runs, sum: 10 * row.runs, mean: 10 } } })),
    });
    mockFetch((url) => {
      if (url.pathname.endsWith("/timeseries")) return { body: { interval: "day", data: [] } };
      if (url.pathname.endsWith("/changes")) return { body: { token: "1.0" } };
      const group = url.searchParams.get("group");
      if (group === "category") return { body: usage("category", [{ group: "billing / refunds", runs: 2 }, { group: null, runs: 1 }]) };
      return { body: usage("day", [{ group: "2025-03-11T00:00:00Z", runs: 3 }]) };
    });
    const { LatencyPage } = await import("./Latency");
    renderAt("/latency?env=production", "/latency", <LatencyPage />);
    const day = await screen.findByTestId("usage-row-logs");
    expect(day.getAttribute("href")).toBe("/alice/logs?start_date=2025-03-11&end_date=2025-03-11&environment=production");
    await userEvent.selectOptions(screen.getByLabelText("Tokens and cost per"), "category");
    const table = await screen.findByTestId("usage-table");
    const link = await within(table).findByRole("link", { name: "billing / refunds" });
    expect(link.getAttribute("href")).toBe(
      "/alice/logs?start_date=2025-03-06T00%3A00%3A00Z&end_date=2025-03-12T15%3A30%3A00Z&environment=production&category=billing+%2F+refunds");
    // the runs without a category: no filter of the list selects them, so no link
    expect(within(table).getByText("(none)").closest("a")).toBeNull();
    expect(within(table).getAllByTestId("usage-row-logs")).toHaveLength(1);
  });
});
