import { describe, expect, it } from "vitest";
import { otelTrace } from "../test/fixtures";
import { genAiMessages, traceDuration, treeRows, visibleRows, type TraceSpan } from "./otelTrace";

const spans = otelTrace().spans;

describe("the span tree", () => {
  it("lists spans depth first, children by start time, with their depth", () => {
    const rows = treeRows([...spans].reverse());
    expect(rows.map((r) => [r.span.name, r.depth])).toEqual([
      ["handle ticket", 0], ["chat gpt-4o", 1], ["execute_tool crm_lookup", 1], ["chat gpt-4o-mini", 1],
    ]);
    expect(rows[0].children).toBe(3);
  });

  it("shows a span whose parent is missing at the top level, and survives a cycle", () => {
    const orphan = { ...spans[1], span_id: "e0", parent_span_id: "not-here" } as TraceSpan;
    const a = { ...spans[2], span_id: "x1", parent_span_id: "x2" } as TraceSpan;
    const b = { ...spans[2], span_id: "x2", parent_span_id: "x1" } as TraceSpan;
    const rows = treeRows([spans[0], orphan, a, b]);
    expect(rows.map((r) => r.span.span_id).sort()).toEqual(["a000000000000001", "e0", "x1", "x2"]);
    expect(rows.find((r) => r.span.span_id === "e0")?.depth).toBe(0);
  });

  it("hides the descendants of a collapsed span", () => {
    const rows = treeRows(spans);
    expect(visibleRows(rows, new Set(["a000000000000001"])).map((r) => r.span.name)).toEqual(["handle ticket"]);
    expect(visibleRows(rows, new Set())).toHaveLength(4);
  });

  it("draws 10,000 nested spans without overflowing the stack", () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => ({ ...spans[0], span_id: `s${i}`, parent_span_id: i ? `s${i - 1}` : null, offset_ms: i }) as TraceSpan);
    const rows = treeRows(chain);
    expect(rows).toHaveLength(10_000);
    expect(rows[9_999].depth).toBe(9_999);
  });

  it("measures the trace to the end of its last span", () => {
    expect(traceDuration(spans)).toBe(2000);
  });
});

describe("GenAI messages", () => {
  it("reads the current conventions' message lists, as JSON text or as values", () => {
    expect(genAiMessages(spans[1]).map((m) => [m.role, m.content])).toEqual([
      ["user", "Where is my refund?"], ["assistant", "It was sent on Monday."],
    ]);
  });

  it("reads OpenLLMetry's and OpenInference's indexed attributes", () => {
    expect(genAiMessages(spans[3]).map((m) => [m.role, m.content])).toEqual([["system", "You are a support agent."]]);
    const oi = { ...spans[1], attributes: { "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "second",
                                            "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "first",
                                            "llm.output_messages.0.message.content": "answer" } } as TraceSpan;
    expect(genAiMessages(oi).map((m) => [m.role, m.content])).toEqual([["system", "first"], ["user", "second"], ["assistant", "answer"]]);
  });

  it("reads message events and the log events of opentelemetry-instrumentation-openai-v2", () => {
    const span = { ...spans[2], attributes: {}, events: [{ name: "gen_ai.user.message", offset_ms: 1, attributes: { content: "hi" } }] } as TraceSpan;
    const records = [{ record_id: "1", span_id: span.span_id, severity_number: 9, severity_text: null, event_name: "gen_ai.choice",
                       body: { index: 0, finish_reason: "stop", message: { role: "assistant", content: "hello" } }, attributes: {},
                       scope: {}, time: "", offset_ms: 2 }];
    expect(genAiMessages(span, records).map((m) => [m.role, m.content, m.source])).toEqual([
      ["user", "hi", "span event"], ["assistant", "hello", "log record"],
    ]);
  });

  it("finds nothing where nothing was recorded", () => {
    expect(genAiMessages(spans[0])).toEqual([]);
  });
});
