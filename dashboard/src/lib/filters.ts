// Log-list filters ↔ URL ↔ API query.
//
// The URL uses the API's own parameter names wherever one exists, so a bookmarked dashboard
// URL reads like the API call it makes; the two friendly ones the dashboard adds (confidence
// range, needs-more-info) map to the API's metrics filters. Raw `metrics.<key>__<op>` parameters
// in the URL are passed through untouched for power users.

export const TEXT_FILTERS = [
  "q",
  "ticket_id",
  "status",
  "category",
  "environment",
  "workflow_version",
  "resolution_status",
  "customer_type",
  "workflow_error_type",
  "workflow_error_node",
  "is_system_error",
  "start_date",
  "end_date",
  "min_execution_time",
  "max_execution_time",
  "confidence_min",
  "confidence_max",
  "needs_more_info",
  "error_issue",
] as const;

export type FilterKey = (typeof TEXT_FILTERS)[number];
export type Filters = Partial<Record<FilterKey, string>> & { metrics?: Record<string, string> };

export const ORDERINGS = ["-executed_at", "executed_at", "-execution_time_seconds", "execution_time_seconds"] as const;
export type Ordering = (typeof ORDERINGS)[number];
export const PAGE_SIZES = [25, 50, 100, 200] as const;

export interface ListState {
  filters: Filters;
  ordering: Ordering;
  page: number;
  pageSize: number;
  /** A search's page after the first: the API's next_cursor that leads to it (see searchPages). */
  cursor?: string;
}

export const DEFAULT_ORDERING: Ordering = "-executed_at";
export const DEFAULT_PAGE_SIZE = 50;

export function readListState(search: URLSearchParams): ListState {
  const filters: Filters = {};
  for (const key of TEXT_FILTERS) {
    const value = search.get(key);
    if (value !== null && value.trim() !== "") filters[key] = value.trim();
  }
  const metrics: Record<string, string> = {};
  search.forEach((value, key) => {
    if (key.startsWith("metrics.") && value !== "") metrics[key] = value;
  });
  if (Object.keys(metrics).length) filters.metrics = metrics;
  const ordering = search.get("ordering");
  const page = Number(search.get("page"));
  const pageSize = Number(search.get("page_size"));
  return {
    filters,
    ordering: (ORDERINGS as readonly string[]).includes(ordering ?? "") ? (ordering as Ordering) : DEFAULT_ORDERING,
    page: Number.isInteger(page) && page >= 1 ? page : 1,
    pageSize: Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 500 ? pageSize : DEFAULT_PAGE_SIZE,
    ...(search.get("cursor") ? { cursor: search.get("cursor")! } : {}),
  };
}

/** The URL of a list state; defaults are left out so URLs stay short and canonical. */
export function writeListState(state: ListState): URLSearchParams {
  const search = new URLSearchParams();
  for (const key of TEXT_FILTERS) {
    const value = state.filters[key];
    if (value !== undefined && value !== "") search.set(key, value);
  }
  for (const [key, value] of Object.entries(state.filters.metrics ?? {})) search.set(key, value);
  if (state.ordering !== DEFAULT_ORDERING) search.set("ordering", state.ordering);
  if (state.page !== 1) search.set("page", String(state.page));
  if (state.pageSize !== DEFAULT_PAGE_SIZE) search.set("page_size", String(state.pageSize));
  if (state.cursor && searchPages(state)) search.set("cursor", state.cursor);
  return search;
}

/** A search newest first pages by cursor: page N of a search by number would make the server
 *  search pages 1..N-1 again to skip them, so deep pages cost more and more (and may answer
 *  422); a cursor continues where the previous page ended. The page number stays in the URL
 *  for the label; the cursors of the pages before are kept in the browser's history. */
export function searchPages(state: ListState): boolean {
  return Boolean(state.filters.q) && state.ordering === DEFAULT_ORDERING;
}

/** API query parameters for GET /api/v1/logs and /api/v1/logs/export. */
export function apiFilterParams(filters: Filters): Record<string, string> {
  const params: Record<string, string> = {};
  for (const key of TEXT_FILTERS) {
    const value = filters[key];
    if (value === undefined || value === "") continue;
    switch (key) {
      case "confidence_min":
        params["metrics.overall_confidence__gte"] = value;
        break;
      case "confidence_max":
        params["metrics.overall_confidence__lte"] = value;
        break;
      case "needs_more_info":
        params["metrics.needs_more_info"] = value;
        break;
      default:
        params[key] = value;
    }
  }
  Object.assign(params, filters.metrics ?? {});
  return params;
}

export function apiListParams(state: ListState): Record<string, string> {
  const paging: Record<string, string> = searchPages(state) ? { cursor: state.cursor ?? "" } : { page: String(state.page) };
  return {
    ...apiFilterParams(state.filters),
    ordering: state.ordering,
    ...paging,
    page_size: String(state.pageSize),
  };
}

export function exportUrl(filters: Filters, ordering: Ordering, format: "csv" | "ndjson" = "csv"): string {
  const search = new URLSearchParams({ format, ...apiFilterParams(filters), ordering });
  return `/api/v1/logs/export?${search.toString()}`;
}

export function activeFilterCount(filters: Filters): number {
  return TEXT_FILTERS.filter((key) => filters[key]).length + Object.keys(filters.metrics ?? {}).length;
}

/** Toggle one value in a comma-separated multi-value filter (status=FAILED,ERROR). */
export function toggleListValue(current: string | undefined, value: string): string {
  const values = (current ?? "").split(",").map((v) => v.trim()).filter(Boolean);
  const next = values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
  return next.join(",");
}

/** How the page names each filter (the API's parameter → the label the user sees), for chips
 * and for reporting a bad value under the name the user typed it. */
export const FILTER_LABELS: Record<string, string> = {
  q: "Search",
  ticket_id: "Ticket id",
  status: "Status",
  category: "Category",
  environment: "Environment",
  workflow_version: "Workflow version",
  resolution_status: "Resolution",
  customer_type: "Customer type",
  workflow_error_type: "Error type",
  workflow_error_node: "Error node",
  is_system_error: "System error",
  start_date: "From",
  end_date: "To",
  min_execution_time: "Min duration (s)",
  max_execution_time: "Max duration (s)",
  confidence_min: "Confidence ≥",
  confidence_max: "Confidence ≤",
  needs_more_info: "Needed more info",
  error_issue: "Error issue",
  "metrics.overall_confidence__gte": "Confidence ≥",
  "metrics.overall_confidence__lte": "Confidence ≤",
  "metrics.needs_more_info": "Needed more info",
};

/** The filter with one key removed (a chip's ×). */
export function withoutFilter(filters: Filters, key: string): Filters {
  if (key.startsWith("metrics.")) {
    const metrics = { ...(filters.metrics ?? {}) };
    delete metrics[key];
    return { ...filters, metrics: Object.keys(metrics).length ? metrics : undefined };
  }
  return { ...filters, [key]: undefined };
}

/** Every active filter as (key, label, value), in the order of TEXT_FILTERS, then metrics.*. */
export function activeFilters(filters: Filters): { key: string; label: string; value: string }[] {
  const out = TEXT_FILTERS.filter((key) => filters[key]).map((key) => ({ key: key as string, label: FILTER_LABELS[key] ?? key, value: filters[key] as string }));
  for (const [key, value] of Object.entries(filters.metrics ?? {})) out.push({ key, label: FILTER_LABELS[key] ?? key.replace(/^metrics\./, ""), value });
  return out;
}