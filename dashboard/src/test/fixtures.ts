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
