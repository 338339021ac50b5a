// Test data shaped exactly like /work/shared/bench/gen.py's logs (what the real workflow sends).
import type { LogDetail, LogList, LogSummary, SessionState } from "../api/types";

export const generatorPayload = {
  trace: {
    react_iterations: [
      {
        iteration: 1,
        thought: "The customer reports that device stopped working after firmware update.",
        action: "search_knowledge_base",
        action_input: { query: "firmware update blinking red", top_k: 5 },
        observation: "Found similar issue resolved by factory reset instructions.",
        duration_ms: 812,
      },
      {
        iteration: 2,
        thought: "Check the warranty status.",
        action: "check_warranty",
        action_input: { query: "serial number", top_k: 3 },
        observation: "Warranty valid until next year.",
        duration_ms: 1204,
      },
      {
        iteration: 3,
        thought: "Draft the answer.",
        action: "draft_response",
        action_input: { query: "reset steps", top_k: 10 },
        observation: "Draft ready.",
        duration_ms: 430,
      },
    ],
    audit_events: [
      { event: "workflow_started", t_ms: 12, node: "planner" },
      { event: "ticket_loaded", t_ms: 300, node: "retriever" },
    ],
    retrieval: {
      text_matches: [{ doc_id: "kb-1201", score: 0.87, snippet: "Factory reset instructions." }],
      past_tickets: ["4411223", "998877"],
      vision_matches: [{ product: "Mesh Pro 3", similarity: 0.71 }],
    },
    planning: { steps: ["Verify serial number.", "Suggest troubleshooting steps."], confidence: 0.91 },
    product: { name: "Mesh Pro 3", sku: "SKU-00421", confidence: 0.66 },
    evidence: { sources: 3, summary: "Knowledge base article matches product model." },
  },
  final_response: "Please hold the reset button for ten seconds.",
  private_note: "Customer is VIP; offered RMA if the reset fails.",
};

export function summary(overrides: Partial<LogSummary> = {}): LogSummary {
  return {
    id: "0193f0c2-0000-7000-8000-000000000001",
    event_id: null,
    environment: "production",
    workflow_version: "v1.2",
    ticket_id: "4242",
    executed_at: "2025-03-01T10:00:00Z",
    execution_time_seconds: 4.5,
    status: "SUCCESS",
    category: "billing_issue",
    resolution_status: "RESOLVED",
    customer_type: null,
    workflow_error: null,
    workflow_error_type: null,
    workflow_error_node: null,
    is_system_error: false,
    metrics: { overall_confidence: 0.93, needs_more_info: false, react_iterations: 3 },
    created_at: "2025-03-01T10:00:05Z",
    ...overrides,
  };
}

export function detail(overrides: Partial<LogDetail> = {}): LogDetail {
  return {
    ...summary(),
    payload: generatorPayload,
    metadata: { priority: "high", ticket_tags: ["vip", "firmware"] },
    extra: { client_id: "whatever" },
    ticket_subject_hash: "ab12",
    requester_email_hash: "cd34",
    scrubbed: null,
    ...overrides,
  };
}

export function list(rows: LogSummary[], total = rows.length): LogList {
  return {
    data: rows,
    pagination: { page: 1, page_size: 50, total, pages: Math.max(1, Math.ceil(total / 50)), total_is_exact: true, next_cursor: null },
  };
}

export const session: SessionState = {
  user: { username: "carol", email: "carol@example.com" },
  memberships: [{ slug: "alice", name: "Alice", role: "viewer" }],
  current_client: { slug: "alice", name: "Alice", role: "viewer" },
  session_expires_at: "2030-01-01T00:00:00Z",
};

/** A run received over OpenTelemetry: a root, two model calls (one failing), a tool call and a
 *  log record, as GET /api/v1/logs/{id}/trace returns them. */
export function otelTrace(): import("../lib/otelTrace").LogTrace {
  const base = { kind: 1, status_message: null, operation: null, model: null, input_tokens: null, output_tokens: null,
                 events: [], links: [], scope: { name: "agent" }, service_name: "support-agent", start_time: "2025-03-01T10:00:00Z" };
  return {
    log_id: "0193f0c2-0000-7000-8000-0000000000aa",
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    root_span_id: "a000000000000001",
    start_time: "2025-03-01T10:00:00Z",
    resource: { "service.name": "support-agent" },
    truncated: false,
    spans: [
      { ...base, span_id: "a000000000000001", parent_span_id: null, name: "handle ticket", status_code: 2, offset_ms: 0, duration_ms: 2000,
        attributes: { "ticket.id": "T-1" } },
      { ...base, span_id: "b000000000000002", parent_span_id: "a000000000000001", name: "chat gpt-4o", status_code: 0, offset_ms: 10, duration_ms: 900,
        operation: "llm", model: "gpt-4o-2024-08-06", input_tokens: 1200, output_tokens: 150,
        attributes: { "gen_ai.operation.name": "chat", "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Where is my refund?"}]}]',
                      "gen_ai.output.messages": [{ role: "assistant", parts: [{ type: "text", content: "It was sent on Monday." }] }] } },
      { ...base, span_id: "c000000000000003", parent_span_id: "a000000000000001", name: "execute_tool crm_lookup", status_code: 0, offset_ms: 950, duration_ms: 300,
        operation: "tool", attributes: { "gen_ai.tool.name": "crm_lookup" } },
      { ...base, span_id: "d000000000000004", parent_span_id: "a000000000000001", name: "chat gpt-4o-mini", status_code: 2, offset_ms: 1300, duration_ms: 650,
        operation: "llm", model: "gpt-4o-mini", input_tokens: 300, output_tokens: 20, status_message: "Refund limit exceeded",
        attributes: { "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "You are a support agent." },
        events: [{ name: "exception", offset_ms: 1949, attributes: { "exception.type": "RefundError", "exception.message": "Refund limit exceeded" } }] },
    ],
    log_records: [
      { record_id: "r1", span_id: "c000000000000003", severity_number: 9, severity_text: "INFO", event_name: "agent.step",
        body: "Looked up 3 orders", attributes: { orders: 3 }, scope: {}, time: "2025-03-01T10:00:01Z", offset_ms: 1000 },
      { record_id: "r2", span_id: null, severity_number: 13, severity_text: "WARN", event_name: null,
        body: "trace-level note", attributes: {}, scope: {}, time: "2025-03-01T10:00:02Z", offset_ms: 1990 },
    ],
  };
}
