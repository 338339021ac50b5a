import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { generatorPayload } from "../test/fixtures";
import { TraceViewer } from "./TraceViewer";

describe("TraceViewer", () => {
  it("shows the generator's ReAct iterations as a compact table with details on demand", async () => {
    render(<TraceViewer payload={generatorPayload} />);
    const steps = screen.getAllByTestId("react-step");
    expect(steps).toHaveLength(3);
    expect(steps.map((row) => row.textContent)).toEqual([
      "▸1search_knowledge_base812 ms",
      "▸2check_warranty1.20 s",
      "▸3draft_response430 ms",
    ]);
    expect(screen.getByText(/3 steps, 2.45 s in all/)).toBeInTheDocument();
    expect(screen.queryAllByTestId("react-step-detail")).toHaveLength(0);
    await userEvent.click(within(steps[1]).getByRole("button", { name: /Step 2/ }));
    const detail = screen.getByTestId("react-step-detail");
    expect(within(detail).getByText("Check the warranty status.")).toBeInTheDocument();
    expect(within(detail).getByText("serial number")).toBeInTheDocument();
    expect(within(detail).getByText("Warranty valid until next year.")).toBeInTheDocument();
    // Labels in the order thought → input → observation (the action is on the row).
    expect(Array.from(detail.querySelectorAll("dt")).map((dt) => dt.textContent)).toEqual(["Thought", "Input", "Observation"]);
    await userEvent.click(screen.getByRole("button", { name: "Expand all" }));
    expect(screen.getAllByTestId("react-step-detail")).toHaveLength(3);
    await userEvent.click(screen.getByRole("button", { name: "Collapse all" }));
    expect(screen.queryAllByTestId("react-step-detail")).toHaveLength(0);
  });

  it("flags the failing step, jumps to it, and marks error words in observations", async () => {
    const steps = Array.from({ length: 24 }, (_, i) => ({
      iteration: i + 1,
      thought: `Thought ${i + 1}`,
      action: i === 16 ? "lookup_order" : "search_knowledge_base",
      observation: i === 16 ? "HTTP 503 Service Unavailable: connection refused by orders.api" : `Result ${i + 1}`,
      duration_ms: 200 + i,
    }));
    render(<TraceViewer payload={{ trace: { react_iterations: steps } }} />);
    const rows = screen.getAllByTestId("react-step");
    expect(rows.filter((row) => row.dataset.failed)).toEqual([rows[16]]);
    await userEvent.click(screen.getByRole("button", { name: "Jump to the failing step (17)" }));
    const detail = screen.getByTestId("react-step-detail");
    expect(detail).toHaveTextContent("connection refused");
    expect(within(detail).getAllByTestId("error-mark").map((m) => m.textContent)).toEqual(["503 Service Unavailable", "refused"]);
    expect(within(rows[16]).getByRole("button", { name: /Step 17, failed/ })).toHaveFocus();
  });

  it("highlights and opens the steps matching the search the page was opened from", () => {
    render(<TraceViewer payload={generatorPayload} highlight="warranty" />);
    const rows = screen.getAllByTestId("react-step");
    expect(rows.map((row) => Boolean(row.dataset.match))).toEqual([false, true, false]);
    const detail = screen.getByTestId("react-step-detail");
    expect(Array.from(detail.querySelectorAll("mark")).map((m) => m.textContent)).toEqual(["warranty", "Warranty"]);
    expect(screen.getByText(/1 matching “warranty”/)).toBeInTheDocument();
  });

  it("shows the retrieval, planning, product and evidence sections, the answer and the private note", () => {
    render(<TraceViewer payload={generatorPayload} />);
    for (const title of ["Planning", "Retrieval", "Product", "Evidence", "Audit events"]) {
      expect(screen.getByRole("heading", { name: title })).toBeInTheDocument();
    }
    expect(screen.getByText("SKU-00421")).toBeInTheDocument();
    expect(screen.getByText("kb-1201")).toBeInTheDocument();
    expect(screen.getByText("Verify serial number.")).toBeInTheDocument();
    expect(screen.getByTestId("final-response")).toHaveTextContent("Please hold the reset button for ten seconds.");
    expect(screen.getByTestId("private-note")).toHaveTextContent("Customer is VIP");
    // Every panel has its raw JSON, collapsed, with a copy button.
    expect(screen.getAllByText("Raw JSON").length).toBeGreaterThanOrEqual(5);
    expect(screen.getAllByRole("button", { name: "Copy JSON to clipboard" }).length).toBeGreaterThanOrEqual(5);
  });

  it("shows a trace that is a list of nodes", () => {
    render(<TraceViewer payload={{ trace: [{ node: "planner", output: "plan" }, { node: "responder", tokens: 88 }] }} />);
    const nodes = screen.getByTestId("trace-nodes");
    expect(within(nodes).getByText("1. planner")).toBeInTheDocument();
    expect(within(nodes).getByText("2. responder")).toBeInTheDocument();
    expect(within(nodes).getByText("88")).toBeInTheDocument();
  });

  it.each([
    ["no payload", undefined],
    ["a string payload", "oops"],
    ["a null trace", { trace: null }],
    ["a numeric trace", { trace: 42 }],
    ["unknown keys", { trace: { mystery: { deep: [1, { x: null }] } }, something_else: true }],
    ["broken steps", { trace: { react_iterations: [null, "text", { thought: { nested: true }, action_input: [1, 2] }] } }],
    ["a non-string final response", { trace: {}, final_response: { text: "hi" } }],
  ])("never renders a blank page for %s", (_name, payload) => {
    const { container } = render(<TraceViewer payload={payload} />);
    expect(screen.getByRole("heading", { name: "Reasoning steps (ReAct)" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Final response" })).toBeInTheDocument();
    expect(container.textContent?.length).toBeGreaterThan(50);
  });

  it("keeps unknown trace keys visible", () => {
    render(<TraceViewer payload={{ trace: { mystery: { answer: 42 } } }} />);
    expect(screen.getByRole("heading", { name: "Trace: mystery" })).toBeInTheDocument();
    expect(screen.getByText("42")).toBeInTheDocument();
  });
});
