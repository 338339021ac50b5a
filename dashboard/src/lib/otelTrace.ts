// An OpenTelemetry run's trace (GET /api/v1/logs/{id}/trace) as the waterfall draws it: the
// spans in tree order with their depth, and the GenAI message content an instrumentation
// recorded (OpenTelemetry GenAI conventions, OpenLLMetry, OpenInference), wherever it put it.
import type { components } from "../api/schema";

export type LogTrace = components["schemas"]["LogTrace"];
export type TraceSpan = components["schemas"]["TraceSpan"];
export type TraceLogRecord = components["schemas"]["TraceLogRecord"];

export interface Row {
  span: TraceSpan;
  depth: number;
  children: number; // direct children shown below it
}

/** Depth-first rows, children by start time; a span whose parent is not in the trace (not
 *  received, or another service's) is drawn at the top level, so no span is ever hidden. */
export function treeRows(spans: TraceSpan[]): Row[] {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string, TraceSpan[]>();
  const tops: TraceSpan[] = [];
  for (const span of spans) {
    if (span.parent_span_id && ids.has(span.parent_span_id) && span.parent_span_id !== span.span_id) {
      const list = children.get(span.parent_span_id) ?? [];
      list.push(span);
      children.set(span.parent_span_id, list);
    } else {
      tops.push(span);
    }
  }
  const byStart = (a: TraceSpan, b: TraceSpan) => a.offset_ms - b.offset_ms || a.span_id.localeCompare(b.span_id);
  const rows: Row[] = [];
  const seen = new Set<string>();
  // Iterative, so a 10,000-deep chain cannot overflow the stack.
  const stack: [TraceSpan, number][] = tops.sort(byStart).reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [span, depth] = stack.pop()!;
    if (seen.has(span.span_id)) continue;
    seen.add(span.span_id);
    const kids = (children.get(span.span_id) ?? []).sort(byStart);
    rows.push({ span, depth, children: kids.length });
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  // Spans in a parent cycle (never from a real SDK) are still shown.
  for (const span of spans) if (!seen.has(span.span_id)) rows.push({ span, depth: 0, children: 0 });
  return rows;
}

/** Rows without the descendants of collapsed spans. */
export function visibleRows(rows: Row[], collapsed: Set<string>): Row[] {
  const out: Row[] = [];
  let hideBelow: number | null = null;
  for (const row of rows) {
    if (hideBelow !== null && row.depth > hideBelow) continue;
    hideBelow = null;
    out.push(row);
    if (collapsed.has(row.span.span_id) && row.children) hideBelow = row.depth;
  }
  return out;
}

/** The trace's length in ms (the end of its last span). */
export function traceDuration(spans: TraceSpan[]): number {
  return spans.reduce((end, s) => Math.max(end, s.offset_ms + s.duration_ms), 0);
}

export interface Message {
  role: string;
  content: string;
  source: string; // where it was found, for the curious
}

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  return JSON.stringify(value, null, 2);
}

function parsed(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const trimmed = value.trim();
  if (!trimmed.startsWith("[") && !trimmed.startsWith("{")) return value;
  try {
    return JSON.parse(trimmed);
  } catch {
    return value;
  }
}

/** Messages of the current conventions (`gen_ai.input.messages`: [{role, parts: [{type, content}]}]),
 *  or of older shapes ({role, content}). */
function fromMessageList(value: unknown, fallbackRole: string, source: string): Message[] {
  const list = parsed(value);
  if (!Array.isArray(list)) return value ? [{ role: fallbackRole, content: text(value), source }] : [];
  return list.map((item) => {
    if (item && typeof item === "object") {
      const record = item as Record<string, unknown>;
      const parts = Array.isArray(record.parts)
        ? record.parts.map((p) => (p && typeof p === "object" ? text((p as Record<string, unknown>).content ?? p) : text(p))).join("\n")
        : text(record.content ?? record.message ?? record.text ?? item);
      return { role: String(record.role ?? fallbackRole), content: parts, source };
    }
    return { role: fallbackRole, content: text(item), source };
  });
}

/** `prefix.{i}.role` / `prefix.{i}.content` attributes (OpenLLMetry, OpenInference's `.message.`). */
function fromIndexed(attributes: Record<string, unknown>, prefix: string, inner: string, fallbackRole: string): Message[] {
  const found = new Map<number, { role?: string; content?: string }>();
  const pattern = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)\\.${inner.replace(/\./g, "\\.")}(role|content)$`);
  for (const [key, value] of Object.entries(attributes)) {
    const match = pattern.exec(key);
    if (!match) continue;
    const entry = found.get(Number(match[1])) ?? {};
    entry[match[2] as "role" | "content"] = text(value);
    found.set(Number(match[1]), entry);
  }
  return [...found.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, m]) => ({ role: m.role ?? fallbackRole, content: m.content ?? "", source: prefix }));
}

const EVENT_ROLES: Record<string, string> = {
  "gen_ai.system.message": "system",
  "gen_ai.user.message": "user",
  "gen_ai.assistant.message": "assistant",
  "gen_ai.tool.message": "tool",
  "gen_ai.choice": "assistant",
};

function fromEventLike(name: string | null | undefined, attributes: Record<string, unknown>, body: unknown, source: string): Message[] {
  if (!name || !(name in EVENT_ROLES)) return [];
  const record = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const inner = (record.message && typeof record.message === "object" ? record.message : record) as Record<string, unknown>;
  const content = inner.content ?? attributes["gen_ai.event.content"] ?? attributes.content ?? (typeof body === "string" ? body : undefined);
  if (content === undefined && inner.tool_calls === undefined) return [];
  return [{ role: String(inner.role ?? EVENT_ROLES[name]), content: text(content ?? inner.tool_calls), source }];
}

/** Every GenAI message recorded for one span: in its attributes, its events, or the log records
 *  attached to it (opentelemetry-instrumentation-openai-v2 emits them as log events). */
export function genAiMessages(span: TraceSpan, records: TraceLogRecord[] = []): Message[] {
  const a = span.attributes as Record<string, unknown>;
  const messages: Message[] = [];
  if (a["gen_ai.system_instructions"] !== undefined) messages.push(...fromMessageList(a["gen_ai.system_instructions"], "system", "gen_ai.system_instructions"));
  if (a["gen_ai.input.messages"] !== undefined) messages.push(...fromMessageList(a["gen_ai.input.messages"], "user", "gen_ai.input.messages"));
  if (a["gen_ai.output.messages"] !== undefined) messages.push(...fromMessageList(a["gen_ai.output.messages"], "assistant", "gen_ai.output.messages"));
  messages.push(...fromIndexed(a, "gen_ai.prompt", "", "user"), ...fromIndexed(a, "gen_ai.completion", "", "assistant"));
  messages.push(...fromIndexed(a, "llm.input_messages", "message.", "user"), ...fromIndexed(a, "llm.output_messages", "message.", "assistant"));
  for (const event of span.events) messages.push(...fromEventLike(event.name, event.attributes as Record<string, unknown>, event.attributes?.["body"], "span event"));
  for (const record of records) messages.push(...fromEventLike(record.event_name ?? (record.attributes as Record<string, unknown>)["event.name"] as string, record.attributes as Record<string, unknown>, record.body, "log record"));
  return messages;
}

export const OPERATION_LABELS: Record<string, string> = { llm: "LLM", tool: "tool", agent: "agent" };
