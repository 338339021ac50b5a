import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SessionState } from "../api/types";
import { ClientProvider, clientValue } from "../client";
import { SessionContext } from "../session";
import { AlertsPage } from "./AlertsPage";
import type { AlertEvent, AlertRule } from "./api";
import { FiringBadge } from "./FiringBadge";
import { RuleForm, bodyOf, emptyDraft, fieldErrors } from "./RuleForm";

afterEach(() => vi.unstubAllGlobals());

function sessionAs(role: "viewer" | "admin"): SessionState {
  return {
    user: { username: "carol", email: "carol@example.com" },
    memberships: [{ slug: "acme", name: "Acme", role }],
    current_client: { slug: "acme", name: "Acme", role },
    session_expires_at: "2030-01-01T00:00:00Z",
  };
}

function renderWith(role: "viewer" | "admin", element: ReactElement, path = "/alerts") {
  const session = sessionAs(role);
  const value = { session, checking: false, signIn: vi.fn(), signOut: vi.fn(), rememberClient: vi.fn() };
  document.cookie = "csrftoken=test-token";
  return render(
    <SessionContext.Provider value={value}>
      <ClientProvider value={clientValue(session.memberships[0])}>
        <MemoryRouter initialEntries={[path]}>
          <Routes>
            <Route path="*" element={element} />
          </Routes>
        </MemoryRouter>
      </ClientProvider>
    </SessionContext.Provider>,
  );
}

interface Call {
  method: string;
  url: URL;
  body: unknown;
}

function mockApi(answer: (call: Call) => { status?: number; body: unknown }): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: Request) => {
      const text = input.method === "GET" ? "" : await input.text();
      const call = { method: input.method, url: new URL(input.url), body: text ? JSON.parse(text) : undefined };
      calls.push(call);
      const { status = 200, body } = answer(call);
      return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    }),
  );
  return calls;
}

const rule: AlertRule = {
  id: 7, name: "Checkout errors", kind: "error_rate", threshold: 20, window_minutes: 15, min_runs: 10, statuses: ["FAILED", "ERROR"],
  error_type: null, error_node: null, metric: null, operator: "gte",
  filters: { environment: "production", category: null, workflow_version: null, customer_type: null },
  channels: [{ type: "webhook", url: "https://hooks.example.com/x", has_secret: true }], repeat_minutes: null, snoozed_until: null,
  state: "firing", last_value: 42.5, last_evaluated_at: "2026-03-01T10:00:00Z", state_changed_at: "2026-03-01T09:58:00Z",
  last_event: { id: 3, state: "firing", value: 42.5, created_at: "2026-03-01T09:58:00Z", delivery_status: "delivered" },
  created_at: "2026-03-01T09:00:00Z", updated_at: "2026-03-01T09:00:00Z",
};

const event: AlertEvent = {
  id: 3, rule: 7, rule_name: "Checkout errors", kind: "error_rate", state: "firing", value: 42.5, threshold: 20, operator: "gte",
  window_start: "2026-03-01T09:43:00Z", window_end: "2026-03-01T09:58:00Z", filters: { environment: "production" },
  examples: ["0193f0c2-0000-7000-8000-000000000001"], detail: { runs: 40, errors: 17 },
  url: "https://logs.example.com/dashboard/logs?status=FAILED%2CERROR&environment=production", created_at: "2026-03-01T09:58:00Z",
  delivery_status: "delivered", delivery_attempts: 2, delivery_last_error: "HTTP 500",
};

const events = { data: [event], pagination: { page: 1, page_size: 20, total: 1, pages: 1, total_is_exact: true, next_cursor: null } };

describe("Alerts page", () => {
  it("lists rules with their state, value and last event, and the event history", async () => {
    mockApi(({ url }) => (url.pathname.endsWith("/events") ? { body: events } : { body: { data: [rule] } }));
    renderWith("viewer", <AlertsPage />);
    const row = await screen.findByTestId("rule-row");
    expect(row).toHaveTextContent("Checkout errors");
    expect(row).toHaveTextContent("error rate ≥ 20% over 15 min (at least 10 runs)");
    expect(within(row).getByTestId("rule-state")).toHaveTextContent("firing");
    expect(within(row).getByTestId("rule-last-value")).toHaveTextContent("42.5%");
    expect(screen.getByText("Only the client's admins can change alert rules.")).toBeInTheDocument();
    expect(within(row).queryByRole("button", { name: "Test" })).toBeNull();
    const history = await screen.findByTestId("event-row");
    expect(history).toHaveTextContent("42.5% (threshold 20%)");
    expect(history).toHaveTextContent("delivered · 2 attempts");
    expect(history).toHaveTextContent("last error: HTTP 500");
    expect(within(history).getByRole("link", { name: "matching logs" })).toHaveAttribute("href", "/acme/logs?status=FAILED%2CERROR&environment=production");
    expect(within(history).getByTestId("event-example")).toHaveAttribute("href", "/acme/logs/0193f0c2-0000-7000-8000-000000000001");
  });

  it("lets an admin test, snooze and wake a rule", async () => {
    let current = rule;
    const calls = mockApi(({ method, url, body }) => {
      if (url.pathname.endsWith("/test")) return { body: { ok: false, results: [{ type: "webhook", target: "https://hooks.example.com/x", ok: false, status_code: 500, error: "HTTP 500" }] } };
      if (method === "PATCH") {
        current = { ...current, ...(body as Partial<AlertRule>) };
        return { body: current };
      }
      if (url.pathname.endsWith("/events")) return { body: events };
      return { body: { data: [current] } };
    });
    renderWith("admin", <AlertsPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Test" }));
    expect(await screen.findByTestId("test-results")).toHaveTextContent("✗ webhook → https://hooks.example.com/x (HTTP 500): HTTP 500");
    await userEvent.selectOptions(screen.getByLabelText("Snooze Checkout errors"), "1 hour");
    const patch = calls.find((c) => c.method === "PATCH")!;
    const until = Date.parse((patch.body as { snoozed_until: string }).snoozed_until);
    expect(Math.abs(until - Date.now() - 3600_000)).toBeLessThan(60_000);
    await userEvent.click(await screen.findByRole("button", { name: "Wake" }));
    expect(calls.filter((c) => c.method === "PATCH").at(-1)!.body).toEqual({ snoozed_until: null });
  });
});

describe("Firing badge", () => {
  it("shows how many rules fire, and nothing when none does", async () => {
    const calls = mockApi(() => ({ body: { data: [rule, { ...rule, id: 8 }] } }));
    renderWith("viewer", <FiringBadge />);
    expect(await screen.findByTestId("firing-badge")).toHaveTextContent("2 firing");
    expect(calls[0].url.search).toBe("?state=firing");
  });
});

describe("Rule form", () => {
  it("creates a rule with what was typed, after previewing it", async () => {
    const calls = mockApi(({ url }) =>
      url.pathname.endsWith("/preview")
        ? { body: { fired: 3, windows: 672, firing_windows: 5, last_value: 12.5, start: "", end: "" } }
        : { status: 201, body: rule },
    );
    renderWith("admin", <RuleForm rule={null} />, "/alerts/new");
    await userEvent.type(screen.getByLabelText("Name"), "Hallucinations");
    await userEvent.selectOptions(screen.getByLabelText("Kind"), "metric_avg");
    await userEvent.clear(screen.getByLabelText("Threshold"));
    await userEvent.type(screen.getByLabelText("Threshold"), "0.4");
    await userEvent.selectOptions(screen.getByLabelText("Environment"), "production");
    await userEvent.type(screen.getByLabelText("Channel 1 URL"), "https://hooks.example.com/ai");
    await userEvent.type(screen.getByLabelText("Channel 1 secret"), "a-long-signing-secret");
    expect(await screen.findByTestId("rule-preview", {}, { timeout: 3000 })).toHaveTextContent(
      "This rule would have fired 3 times in the last 7 days (5 of 672 windows; latest value 12.5)",
    );
    const preview = calls.filter((c) => c.url.pathname.endsWith("/preview")).at(-1)!;
    expect(preview.body).toMatchObject({ kind: "metric_avg", metric: "hallucination_risk", operator: "gt", threshold: 0.4 });
    expect(preview.body).not.toHaveProperty("channels");
    await userEvent.click(screen.getByRole("button", { name: "Create rule" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.pathname === "/api/v1/alerts/rules")).toBe(true));
    const created = calls.find((c) => c.method === "POST" && c.url.pathname === "/api/v1/alerts/rules")!;
    expect(created.body).toMatchObject({
      name: "Hallucinations", kind: "metric_avg", threshold: 0.4, window_minutes: 15,
      filters: { environment: "production", category: null },
      channels: [{ type: "webhook", url: "https://hooks.example.com/ai", secret: "a-long-signing-secret" }],
    });
  });

  it("shows the server's field errors", async () => {
    mockApi(({ url }) =>
      url.pathname.endsWith("/preview")
        ? { body: { fired: 0, windows: 672, firing_windows: 0, last_value: null, start: "", end: "" } }
        : { status: 400, body: { error: { code: "validation_error", message: "Invalid input: channels", details: { channels: { "0": { url: ["The host resolves to 10.0.0.1, a loopback or private address."] } } } } } },
    );
    renderWith("admin", <RuleForm rule={rule} />, "/alerts/7/edit");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("channels 0 url: The host resolves to 10.0.0.1");
  });

  it("keeps a webhook's secret when editing without typing a new one", () => {
    const body = bodyOf({ ...emptyDraft, channels: [{ type: "webhook", target: "https://x.example/h", secret: "", hasSecret: true }] });
    expect(body.channels).toEqual([{ type: "webhook", url: "https://x.example/h" }]);
    expect(fieldErrors({ threshold: ["Required."] })).toEqual(["threshold: Required."]);
  });
});
