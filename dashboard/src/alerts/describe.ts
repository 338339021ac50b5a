// How an alert rule and its values read for people: "error rate ≥ 20% over 15 min".
import type { AlertKind, AlertRule } from "./api";

export const KINDS: { value: AlertKind; label: string; help: string }[] = [
  { value: "error_rate", label: "Error rate", help: "Share of FAILED + ERROR runs, in percent." },
  { value: "error_count", label: "Error count", help: "Runs with the chosen statuses (optionally one error type or node)." },
  { value: "duration_p95", label: "Slow runs (p95 duration)", help: "95th percentile of execution time, in seconds." },
  { value: "metric_avg", label: "Metric average", help: "Average of a numeric metrics.<key>, e.g. hallucination_risk." },
  { value: "no_data", label: "No data", help: "No run at all in the window: the workflow or its shipper is down." },
  { value: "new_error_type", label: "New error type", help: "An error type/node pair never seen before appears." },
];

const SYMBOL: Record<string, string> = { gt: ">", gte: "≥", lt: "<", lte: "≤" };

export function kindLabel(kind: string): string {
  return KINDS.find((k) => k.value === kind)?.label ?? kind;
}

export function formatWindow(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

function trim(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3)));
}

/** A value of the rule's kind with its unit ("42.5%", "12.3 s", "7 runs"). */
export function formatAlertValue(kind: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (kind === "error_rate") return `${trim(value)}%`;
  if (kind === "duration_p95") return `${trim(value)} s`;
  if (kind === "error_count" || kind === "no_data") return `${trim(value)} run${value === 1 ? "" : "s"}`;
  if (kind === "new_error_type") return `${trim(value)} new`;
  return trim(value);
}

/** The rule's condition in one line. */
export function describeRule(rule: Pick<AlertRule, "kind" | "threshold" | "window_minutes" | "operator" | "metric" | "min_runs" | "statuses" | "error_type" | "error_node">): string {
  const over = `over ${formatWindow(rule.window_minutes)}`;
  const threshold = formatAlertValue(rule.kind, rule.threshold ?? null);
  switch (rule.kind) {
    case "error_rate":
      return `error rate ≥ ${threshold} ${over} (at least ${rule.min_runs} runs)`;
    case "error_count": {
      const which = [rule.error_type, rule.error_node].filter(Boolean).join(" @ ");
      return `${(rule.statuses ?? ["FAILED", "ERROR"]).join("/")} runs${which ? ` of ${which}` : ""} ≥ ${trim(rule.threshold ?? 0)} ${over}`;
    }
    case "duration_p95":
      return `p95 duration ≥ ${threshold} ${over}`;
    case "metric_avg":
      return `average metrics.${rule.metric ?? "?"} ${SYMBOL[rule.operator ?? "gte"]} ${trim(rule.threshold ?? 0)} ${over}`;
    case "no_data":
      return `no run ${over}`;
    case "new_error_type":
      return `a new error type/node pair ${over}`;
    default:
      return rule.kind;
  }
}

/** The page route of a notification's "matching logs" link (the API gives an absolute URL,
 * `/dashboard/<client>/logs?...`; links stored before the client was in it lack the client):
 * "/logs?..." for `client.path()`, the history being the rule's client's own. */
export function logsRoute(url: string): string {
  try {
    const parsed = new URL(url, "http://localhost");
    return "/logs" + parsed.search;
  } catch {
    return "/logs";
  }
}

export function isSnoozed(rule: Pick<AlertRule, "snoozed_until">, now = Date.now()): boolean {
  return Boolean(rule.snoozed_until && new Date(rule.snoozed_until).getTime() > now);
}
