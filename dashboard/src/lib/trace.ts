// Normalises `payload.trace` into what the trace viewer draws.
//
// The real workflow sends an object: react_iterations (thought → action → action_input →
// observation), audit_events, retrieval, planning, product, evidence. Other clients send a
// list of nodes, a string, or keys we have never seen. Nothing here throws: whatever cannot be
// understood ends up in `other` (shown as JSON), so the page is never blank.

export interface ReactStep {
  n: number;
  thought: string | null;
  action: string | null;
  input: unknown;
  observation: unknown;
  durationMs: number | null;
  extra: Record<string, unknown>;
}

export interface Section {
  key: string;
  title: string;
  value: unknown;
}

export interface NormalizedTrace {
  steps: ReactStep[];
  sections: Section[];
  auditEvents: Record<string, unknown>[];
  nodes: unknown[] | null;
  other: Section[];
  empty: boolean;
}

export const KNOWN_SECTIONS: { key: string; title: string }[] = [
  { key: "planning", title: "Planning" },
  { key: "retrieval", title: "Retrieval" },
  { key: "product", title: "Product" },
  { key: "evidence", title: "Evidence" },
];

const STEP_KEYS = ["react_iterations", "iterations", "react_steps", "steps"];
const THOUGHT = ["thought", "reasoning", "think"];
const ACTION = ["action", "tool", "tool_name"];
const INPUT = ["action_input", "input", "tool_input", "args", "arguments"];
const OBSERVATION = ["observation", "output", "result", "tool_output"];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pick(record: Record<string, unknown>, keys: string[], used: Set<string>): unknown {
  for (const key of keys) {
    if (key in record) {
      used.add(key);
      return record[key];
    }
  }
  return undefined;
}

function asText(value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function looksLikeStep(value: unknown): boolean {
  return isRecord(value) && [...THOUGHT, ...ACTION, ...OBSERVATION].some((key) => key in value);
}

export function toStep(raw: unknown, index: number): ReactStep {
  if (!isRecord(raw)) {
    return { n: index + 1, thought: asText(raw), action: null, input: undefined, observation: undefined, durationMs: null, extra: {} };
  }
  const used = new Set<string>(["iteration", "step", "duration_ms"]);
  const thought = asText(pick(raw, THOUGHT, used));
  const action = asText(pick(raw, ACTION, used));
  const input = pick(raw, INPUT, used);
  const observation = pick(raw, OBSERVATION, used);
  const numbered = typeof raw.iteration === "number" ? raw.iteration : typeof raw.step === "number" ? raw.step : index + 1;
  const duration = typeof raw.duration_ms === "number" && Number.isFinite(raw.duration_ms) ? raw.duration_ms : null;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (!used.has(key)) extra[key] = value;
  return { n: numbered, thought, action, input, observation, durationMs: duration, extra };
}

export function normalizeTrace(trace: unknown): NormalizedTrace {
  const result: NormalizedTrace = { steps: [], sections: [], auditEvents: [], nodes: null, other: [], empty: false };
  if (trace === undefined || trace === null || (isRecord(trace) && Object.keys(trace).length === 0)) {
    result.empty = true;
    return result;
  }
  if (Array.isArray(trace)) {
    // A list: ReAct-like steps become the timeline, anything else is a list of nodes.
    if (trace.length > 0 && trace.every(looksLikeStep)) result.steps = trace.map(toStep);
    else result.nodes = trace;
    result.empty = trace.length === 0;
    return result;
  }
  if (!isRecord(trace)) {
    result.other.push({ key: "trace", title: "Trace", value: trace });
    return result;
  }
  const consumed = new Set<string>();
  for (const key of STEP_KEYS) {
    const value = trace[key];
    if (Array.isArray(value) && (key === "react_iterations" || value.every(looksLikeStep))) {
      result.steps = value.map(toStep);
      consumed.add(key);
      break;
    }
  }
  if (Array.isArray(trace.audit_events)) {
    result.auditEvents = trace.audit_events.filter(isRecord);
    if (result.auditEvents.length === trace.audit_events.length) consumed.add("audit_events");
  }
  for (const { key, title } of KNOWN_SECTIONS) {
    if (!(key in trace)) continue;
    consumed.add(key); // a null section is simply absent
    if (trace[key] !== null && trace[key] !== undefined) result.sections.push({ key, title, value: trace[key] });
  }
  for (const [key, value] of Object.entries(trace)) {
    if (!consumed.has(key)) result.other.push({ key, title: key, value });
  }
  return result;
}

/** payload minus trace, final_response and private_note: shown as "other payload fields". */
export function payloadRest(payload: unknown): Record<string, unknown> {
  if (!isRecord(payload)) return {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (!["trace", "final_response", "private_note"].includes(key)) rest[key] = value;
  }
  return rest;
}

// Words that mark an error inside a step's text (highlighted, and they flag the step).
export const ERROR_WORDS = /\b(?:error|errors|exception|traceback|failed|failure|timed out|timeout|refused|denied|invalid|not found|unavailable|[45]\d\d (?:too many requests|internal server error|bad gateway|service unavailable|not found|forbidden|unauthorized))\b/gi;

/** Everything a step says, as one text (for search and error detection). */
export function stepText(step: ReactStep): string {
  const part = (value: unknown) => (value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));
  return [step.thought, step.action, part(step.input), part(step.observation), part(step.extra)].join("\n");
}

/** Whether a step failed: it carries an error (error/exception key, an error status) or its
 * observation reads like one. */
export function stepFailed(step: ReactStep): boolean {
  const extra = step.extra;
  if (["error", "exception", "traceback"].some((key) => extra[key] !== undefined && extra[key] !== null && extra[key] !== "")) return true;
  const status = typeof extra.status === "string" ? extra.status.toLowerCase() : "";
  if (["error", "failed", "failure"].includes(status)) return true;
  const observation = typeof step.observation === "string" ? step.observation : step.observation === undefined ? "" : JSON.stringify(step.observation);
  return /\b(error|exception|traceback|failed|timed out|refused)\b/i.test(observation);
}

/** Whether the step mentions `term` (case-insensitive). */
export function stepMatches(step: ReactStep, term: string): boolean {
  return term.trim() !== "" && stepText(step).toLowerCase().includes(term.trim().toLowerCase());
}
