// Known data for the end-to-end run, shaped like the real workflow's logs (bench/gen.py).
// Alpha: 30 logs in the last 3 days + 6 older ones (the previous period); Beta: 12 logs whose
// ticket ids (B-...) and category (beta_secret_category) must never show up for Alpha's users.

const HOUR = 3600 * 1000;
export const ALPHA_FAILED = new Set([3, 13, 23]);
export const ALPHA_ERROR = new Set([7]);
export const ALPHA_PARTIAL = new Set([17, 27]);
const CATEGORIES = ["billing_issue", "technical_issue", "account_access"];

function trace(i) {
  return {
    react_iterations: [1, 2, 3].map((n) => ({
      iteration: n,
      thought: `Step ${n} thought for ticket ${i}.`,
      action: ["search_knowledge_base", "lookup_order", "draft_response"][n - 1],
      action_input: { query: `query ${i}-${n}`, top_k: 5 },
      observation: `Observation ${n} for ticket ${i}.`,
      duration_ms: 100 * n,
    })),
    audit_events: [
      { event: "workflow_started", t_ms: 5, node: "planner" },
      { event: "workflow_finished", t_ms: 900, node: "responder" },
    ],
    retrieval: { text_matches: [{ doc_id: `kb-${i}`, score: 0.8, snippet: "Reset instructions." }], past_tickets: ["123"], vision_matches: [] },
    planning: { steps: ["Verify the order.", "Answer the customer."], confidence: 0.9 },
    product: { name: "Mesh Pro 3", sku: `SKU-${String(i).padStart(5, "0")}`, confidence: 0.7 },
    evidence: { sources: 2, summary: "Knowledge base matches." },
  };
}

export function alphaLog(i, now = Date.now()) {
  const status = ALPHA_FAILED.has(i) ? "FAILED" : ALPHA_ERROR.has(i) ? "ERROR" : ALPHA_PARTIAL.has(i) ? "PARTIAL" : "SUCCESS";
  const failed = status === "FAILED" || status === "ERROR";
  const errorType = failed ? (i === 3 || i === 13 ? "TimeoutError" : "RateLimitError") : null;
  return {
    event_id: `alpha-${i}`,
    environment: "production",
    workflow_version: i < 15 ? "v1.1" : "v1.2",
    ticket_id: `A-${1000 + i}`,
    executed_at: new Date(now - (i * 2 + 1) * HOUR).toISOString(),
    execution_time_seconds: 1 + i * 0.5,
    status,
    category: CATEGORIES[i % 3],
    resolution_status: failed ? "ESCALATED" : "RESOLVED",
    customer_type: i % 5 === 0 ? "VIP" : null,
    workflow_error: failed ? `${errorType}: upstream call failed for ticket ${i}` : null,
    workflow_error_type: errorType,
    workflow_error_node: failed ? (errorType === "TimeoutError" ? "retriever" : "planner") : null,
    is_system_error: status === "ERROR",
    metrics: {
      overall_confidence: i < 5 ? 0.3 : 0.9,
      needs_more_info: i % 4 === 0,
      react_iterations: 3,
      plan_steps: 2,
      total_tokens: 1000 + 10 * i,
      cost_usd: 0.002,
    },
    payload: { trace: trace(i), final_response: `Final answer for ticket A-${1000 + i}.`, private_note: `Private note ${i}.` },
    metadata: { priority: "normal", ticket_tags: ["e2e"] },
  };
}

// Real data is not tidy. Four more alpha logs, 60-63 h ago (inside the 7-day period, after the
// 30 tidy ones in the list, shorter than the longest): a 242-character ticket id, a long
// category, a 24-step trace with a failing step, URLs, tokens and three scripts (E1); every
// optional field empty (E2); an error only in v1.2, new in that version (E3); a second run of
// ticket A-1003 (E4), to compare with the first.
export const LONG_TICKET = "T-" + "0123456789abcdef".repeat(15);
export const LONG_CATEGORY = "enterprise_customer_escalation_requiring_manual_review_by_tier_two_support_" + "x".repeat(55);
export const EDGE_FAILED = 2; // E2, E3
export const EDGE_COUNT = 4;

function longTrace() {
  return {
    react_iterations: Array.from({ length: 24 }, (_, k) => ({
      iteration: k + 1,
      thought: k === 0 ? "Der Kunde meldet einen Fehler nach dem Update — お客様はデバイスが起動しないと報告 — يفيد العميل بوجود خطأ" : `Step ${k + 1}: check the next source.`,
      action: k === 16 ? "lookup_order" : ["search_knowledge_base", "search_past_tickets", "check_warranty"][k % 3],
      action_input: { query: k === 5 ? "https://kb.example.org/" + "a".repeat(200) : `query ${k}`, top_k: 5 },
      observation:
        k === 16
          ? "HTTP 503 Service Unavailable: connection refused by https://orders.api.example.com/v2/orders/77812?token=" + "f".repeat(96)
          : k === 9
            ? "Session token " + "Z".repeat(180)
            : `Observation ${k + 1}.`,
      duration_ms: 150 + 97 * k,
    })),
    audit_events: [{ event: "workflow_started", t_ms: 3, node: "planner" }],
  };
}

export function edgeLogs(now = Date.now()) {
  const at = (hours) => new Date(now - hours * HOUR).toISOString();
  return [
    {
      ...alphaLog(1, now),
      event_id: "edge-long",
      ticket_id: LONG_TICKET,
      category: LONG_CATEGORY,
      executed_at: at(60),
      execution_time_seconds: 12,
      customer_type: "enterprise_" + "y".repeat(80),
      payload: { trace: longTrace(), final_response: "Antwort: Bitte setzen Sie das Gerät zurück. 回答：デバイスをリセットしてください。 الرد: يرجى إعادة ضبط الجهاز.", private_note: "n".repeat(300) },
    },
    {
      event_id: "edge-empty",
      environment: "production",
      executed_at: at(61),
      status: "FAILED",
    },
    {
      ...alphaLog(2, now),
      event_id: "edge-new-error",
      ticket_id: "A-EDGE-3",
      workflow_version: "v1.2",
      executed_at: at(62),
      execution_time_seconds: 2,
      status: "FAILED",
      resolution_status: "ESCALATED",
      workflow_error_type: "SchemaError",
      workflow_error_node: "react_agent",
      workflow_error: "SchemaError: tool 'lookup_order' returned 'items' as a list for order 77812",
    },
    {
      ...alphaLog(3, now),
      payload: {
        trace: { ...trace(3), react_iterations: [...trace(3).react_iterations, { iteration: 4, thought: "Verify the refund policy.", action: "verify_policy", action_input: { query: "policy" }, observation: "Policy allows it.", duration_ms: 420 }] },
        final_response: "Final answer for ticket A-1003, second run.",
      },
      event_id: "edge-rerun",
      workflow_version: "v1.2",
      executed_at: at(63),
      execution_time_seconds: 3,
      status: "SUCCESS",
      resolution_status: "RESOLVED",
      workflow_error: null,
      workflow_error_type: null,
      workflow_error_node: null,
      is_system_error: false,
    },
  ];
}

export function alphaOlderLog(i, now = Date.now()) {
  // 9-10 days ago: in the previous 7-day period, not the current one.
  return { ...alphaLog(i, now), event_id: `alpha-old-${i}`, ticket_id: `A-OLD-${i}`, executed_at: new Date(now - (9 * 24 + i) * HOUR).toISOString() };
}

export function betaLog(i, now = Date.now()) {
  return {
    ...alphaLog(i, now),
    event_id: `beta-${i}`,
    ticket_id: `B-${2000 + i}`,
    category: "beta_secret_category",
    status: "SUCCESS",
    workflow_error: null,
    workflow_error_type: null,
    workflow_error_node: null,
    payload: { trace: trace(i), final_response: "BETA CONFIDENTIAL ANSWER", private_note: "beta only" },
  };
}

export async function ingest(base, key, logs) {
  const response = await fetch(`${base}/api/v1/logs/batch`, {
    method: "POST",
    headers: { "X-API-Key": key, "Content-Type": "application/json" },
    body: JSON.stringify({ logs }),
  });
  if (response.status !== 201) throw new Error(`ingest failed: ${response.status} ${await response.text()}`);
  return (await response.json()).ids;
}

export async function apiGet(base, key, path) {
  const response = await fetch(`${base}${path}`, { headers: { "X-API-Key": key } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// An agent run as an OpenTelemetry SDK exports it (the OTLP JSON mapping): a root with our run
// attributes, two chat calls with GenAI usage (one failing), a tool call; and a log record of
// the tool call. Times are nanoseconds as decimal strings.
export const OTEL_TRACE_ID = "5b8efff798038103d269b633813fc60c";
export function otelExports(now = Date.now()) {
  const t0 = BigInt(now - 60 * 60 * 1000) * 1_000_000n;
  const ns = (ms) => String(t0 + BigInt(Math.round(ms * 1e6)));
  const attrs = (o) => Object.entries(o).map(([key, v]) => ({ key, value: typeof v === "number" ? { intValue: String(v) } : { stringValue: v } }));
  const span = (spanId, parentSpanId, name, start, end, attributes, extra = {}) =>
    ({ traceId: OTEL_TRACE_ID, spanId, parentSpanId, name, kind: 1, startTimeUnixNano: ns(start), endTimeUnixNano: ns(end), attributes: attrs(attributes), ...extra });
  const spans = [
    span("a1a1a1a1a1a1a1a1", "", "handle ticket", 0, 4200, { "ticket.id": "OTEL-1", "ticket.category": "refund", "customer.type": "VIP" },
         { status: { code: 2, message: "refund failed" } }),
    span("b2b2b2b2b2b2b2b2", "a1a1a1a1a1a1a1a1", "chat gpt-4o", 20, 1650, {
      "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
      "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 150,
      "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "Where is my refund for order 991?" }] }]),
      "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "Let me look that order up." }] }]) }),
    span("c3c3c3c3c3c3c3c3", "a1a1a1a1a1a1a1a1", "execute_tool crm_lookup", 1700, 2300, { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "crm_lookup" }),
    span("d4d4d4d4d4d4d4d4", "a1a1a1a1a1a1a1a1", "chat gpt-4o-mini", 2350, 4100, {
      "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 20 },
         { status: { code: 2, message: "refund failed" },
           events: [{ timeUnixNano: ns(4050), name: "exception", attributes: attrs({ "exception.type": "RefundError", "exception.message": "Refund limit exceeded for order 991" }) }] }),
  ];
  const resource = { attributes: attrs({ "service.name": "support-agent", "service.version": "v3.0.0", "deployment.environment.name": "production" }) };
  const traces = { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: "support.agent" }, spans }] }] };
  const logs = { resourceLogs: [{ resource, scopeLogs: [{ scope: { name: "support.agent" }, logRecords: [
    { timeUnixNano: ns(2000), severityNumber: 9, severityText: "INFO", traceId: OTEL_TRACE_ID, spanId: "c3c3c3c3c3c3c3c3",
      body: { stringValue: "CRM: order 991 refunded once already" }, attributes: attrs({ orders: 1 }) }] }] }] };
  return { traces, logs };
}

export async function otlpPost(base, key, path, body) {
  const response = await fetch(`${base}${path}`, {
    method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
