import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { generatorPayload } from "../test/fixtures";
import { TraceViewer } from "./TraceViewer";

describe("TraceViewer", () => {
  it("shows the generator's ReAct iterations as a step-by-step timeline", () => {
    render(<TraceViewer payload={generatorPayload} />);
    const steps = screen.getAllByTestId("react-step");
    expect(steps).toHaveLength(3);
    const second = within(steps[1]);
    expect(second.getByText("Step 2")).toBeInTheDocument();
    expect(second.getByText("Check the warranty status.")).toBeInTheDocument();
    expect(second.getByText("check_warranty")).toBeInTheDocument();
    expect(second.getByText("serial number")).toBeInTheDocument();
    expect(second.getByText("Warranty valid until next year.")).toBeInTheDocument();
    expect(second.getByText("1204 ms")).toBeInTheDocument();
    // Labels appear in the order thought → action → input → observation.
    const labels = Array.from(steps[1].querySelectorAll("dt")).map((dt) => dt.textContent);
    expect(labels).toEqual(["Thought", "Action", "Input", "Observation"]);
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
