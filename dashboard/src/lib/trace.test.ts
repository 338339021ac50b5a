// @vitest-environment node
import { describe, expect, it } from "vitest";
import { generatorPayload } from "../test/fixtures";
import { normalizeTrace, payloadRest } from "./trace";

describe("normalizeTrace", () => {
  it("understands the generator's trace", () => {
    const trace = normalizeTrace(generatorPayload.trace);
    expect(trace.steps).toHaveLength(3);
    expect(trace.steps[1]).toEqual({
      n: 2,
      thought: "Check the warranty status.",
      action: "check_warranty",
      input: { query: "serial number", top_k: 3 },
      observation: "Warranty valid until next year.",
      durationMs: 1204,
      extra: {},
    });
    expect(trace.sections.map((s) => s.key)).toEqual(["planning", "retrieval", "product", "evidence"]);
    expect(trace.auditEvents).toHaveLength(2);
    expect(trace.other).toEqual([]);
  });

  it("treats a list of nodes as nodes, and a list of ReAct-like steps as steps", () => {
    // Only some items look like steps: the whole list is shown as nodes.
    const mixed = normalizeTrace([{ node: "planner", output: 1 }, { node: "responder" }]);
    expect(mixed.steps).toEqual([]);
    expect(mixed.nodes).toHaveLength(2);
    const nodes = normalizeTrace([{ node: "planner" }, { node: "responder" }]);
    expect(nodes.nodes).toHaveLength(2);
    const steps = normalizeTrace([{ thought: "a", tool: "search", tool_input: "x", output: "y" }]);
    expect(steps.steps[0]).toMatchObject({ n: 1, thought: "a", action: "search", input: "x", observation: "y" });
  });

  it("keeps unknown keys and odd values instead of dropping them", () => {
    const trace = normalizeTrace({ react_iterations: ["just a string", 42, null], weird: { a: 1 }, planning: null });
    expect(trace.steps.map((s) => s.thought)).toEqual(["just a string", "42", null]);
    expect(trace.other).toEqual([{ key: "weird", title: "weird", value: { a: 1 } }]);
    expect(trace.sections).toEqual([]);
  });

  it("copes with missing, empty and scalar traces", () => {
    expect(normalizeTrace(undefined).empty).toBe(true);
    expect(normalizeTrace({}).empty).toBe(true);
    expect(normalizeTrace([]).empty).toBe(true);
    expect(normalizeTrace("plain text trace").other).toEqual([{ key: "trace", title: "Trace", value: "plain text trace" }]);
  });

  it("keeps extra step fields", () => {
    const trace = normalizeTrace({ react_iterations: [{ iteration: 7, thought: "t", tokens: 120 }] });
    expect(trace.steps[0]).toMatchObject({ n: 7, extra: { tokens: 120 } });
  });

  it("separates the other payload fields", () => {
    expect(payloadRest({ trace: {}, final_response: "x", private_note: "y", model: "gpt" })).toEqual({ model: "gpt" });
    expect(payloadRest("not an object")).toEqual({});
  });
});
