// Date ranges of the overview and categories pages, kept in the URL (?range=7d or
// ?range=custom&from=2025-01-01&to=2025-01-31&env=production) and turned into API parameters.
//
// 7d/30d/90d use the API's `days` (whole UTC days ending today); 24h is a rolling window
// (start_date/end_date datetimes), so at 09:00 it still shows yesterday's evening.

export type Preset = "24h" | "7d" | "30d" | "90d" | "custom";
export const PRESETS: { value: Preset; label: string }[] = [
  { value: "24h", label: "24 h" },
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
  { value: "90d", label: "90 days" },
  { value: "custom", label: "Custom" },
];

export interface RangeState {
  preset: Preset;
  from: string; // YYYY-MM-DD (custom only)
  to: string;
  environment: string; // "" = all
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function readRange(search: URLSearchParams): RangeState {
  const raw = search.get("range");
  const preset: Preset = PRESETS.some((p) => p.value === raw) ? (raw as Preset) : "7d";
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const environment = search.get("env") ?? "";
  if (preset === "custom" && !(DATE.test(from) && DATE.test(to))) {
    return { preset: "7d", from: "", to: "", environment };
  }
  return { preset, from, to, environment };
}

export function writeRange(search: URLSearchParams, range: RangeState): URLSearchParams {
  const next = new URLSearchParams(search);
  next.set("range", range.preset);
  if (range.preset === "custom") {
    next.set("from", range.from);
    next.set("to", range.to);
  } else {
    next.delete("from");
    next.delete("to");
  }
  if (range.environment) next.set("env", range.environment);
  else next.delete("env");
  return next;
}

import type { MetricsQuery } from "../api/types";

export type RangeParams = Pick<MetricsQuery, "days" | "start_date" | "end_date" | "environment">;

/** Period parameters for every metrics endpoint, plus the bucket size that suits the range. */
export function rangeParams(range: RangeState, now: Date = new Date()): { params: RangeParams; interval: "hour" | "day" } {
  const params: RangeParams = {};
  let interval: "hour" | "day" = "day";
  switch (range.preset) {
    case "24h": {
      const start = new Date(now.getTime() - 24 * 3600 * 1000);
      params.start_date = isoSeconds(start);
      params.end_date = isoSeconds(now);
      interval = "hour";
      break;
    }
    case "custom": {
      params.start_date = range.from;
      params.end_date = range.to;
      const days = (Date.parse(range.to) - Date.parse(range.from)) / 86400000 + 1;
      interval = days <= 2 ? "hour" : "day";
      break;
    }
    default:
      params.days = Number(range.preset.replace("d", ""));
  }
  if (range.environment) params.environment = [range.environment as NonNullable<RangeParams["environment"]>[number]];
  return { params, interval };
}

/** The same period as log-list filters, to jump from a chart to the matching logs. */
export function rangeAsLogFilters(range: RangeState, periodStart?: string, periodEnd?: string): Record<string, string> {
  const filters: Record<string, string> = {};
  if (periodStart) filters.start_date = periodStart;
  if (periodEnd) filters.end_date = periodEnd;
  if (range.environment) filters.environment = range.environment;
  return filters;
}

function isoSeconds(date: Date): string {
  return date.toISOString().slice(0, 19) + "Z";
}

/** The range's identity in a loader key. */
export function rangeKey(range: RangeState): string {
  return `${range.preset}|${range.from}|${range.to}|${range.environment}`;
}
