// Drill-down: from a figure to the logs behind it, for the same period.
//
// The metrics' periods are half-open [start, end); the log list's end_date is inclusive (a
// datetime) or a whole UTC day (a date), so a day bucket becomes start_date = end_date = that
// day, an hour bucket its first and last microsecond, and a whole period its start and end.

export type LogFilterParams = Record<string, string | undefined | null>;

export function logsQuery(params: LogFilterParams): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function periodParams(start: string, end: string, environment?: string): LogFilterParams {
  return { start_date: start, end_date: end, environment: environment || undefined };
}

export function bucketParams(bucket: string, interval: "hour" | "day", environment?: string): LogFilterParams {
  if (interval === "day") {
    const day = bucket.slice(0, 10);
    return { start_date: day, end_date: day, environment: environment || undefined };
  }
  const hour = bucket.slice(0, 13); // YYYY-MM-DDTHH
  return { start_date: `${hour}:00:00Z`, end_date: `${hour}:59:59.999999Z`, environment: environment || undefined };
}
