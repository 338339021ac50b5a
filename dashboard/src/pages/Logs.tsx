import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { getJson } from "../api/client";
import type { LogList, LogSummary } from "../api/types";
import { FilterPanel } from "../components/FilterPanel";
import { EmptyState, ErrorState, Spinner, StatusBadge } from "../components/ui";
import {
  DEFAULT_ORDERING,
  PAGE_SIZES,
  activeFilterCount,
  apiFilterParams,
  apiListParams,
  exportUrl,
  readListState,
  writeListState,
  type ListState,
  type Ordering,
} from "../lib/filters";
import { formatCount, formatDateTime, formatSeconds } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { useSession } from "../session";

/** Token and cost columns appear when a run on the page has them (runs received over
 *  OpenTelemetry: metrics.total_tokens, metrics.cost with the tenant's model prices). */
function usageColumns(logs: LogSummary[]): { tokens: boolean; cost: boolean } {
  return {
    tokens: logs.some((log) => typeof log.metrics?.total_tokens === "number"),
    cost: logs.some((log) => typeof log.metrics?.cost === "number"),
  };
}

function metricNumber(log: LogSummary, key: string, digits?: number): string {
  const value = log.metrics?.[key];
  if (typeof value !== "number") return "—";
  return digits === undefined ? formatCount(value) : value.toFixed(digits);
}

function confidenceOf(log: LogSummary): string {
  const value = log.metrics?.overall_confidence;
  return typeof value === "number" ? value.toFixed(2) : "—";
}

export function LogsPage() {
  const [search, setSearch] = useSearchParams();
  const state = readListState(search);
  const { clientKey } = useSession();
  const navigate = useNavigate();
  const query = apiListParams(state);
  const key = clientKey + "|" + new URLSearchParams(query).toString();
  const { data, error, loading, reload } = useLoader(key, () => getJson<LogList>("/api/v1/logs", query));

  // Live: only the first page of the newest-first list changes when logs arrive.
  const liveEnabled = state.page === 1 && state.ordering === DEFAULT_ORDERING;
  useLiveUpdates(reload, { enabled: liveEnabled, probeFilters: apiFilterParams(state.filters) });
  const fresh = useFreshIds(data?.data, key);

  const update = (next: Partial<ListState>) => {
    const merged = { ...state, ...next };
    if (!("page" in next)) merged.page = 1; // a new filter or order starts at page 1
    setSearch(writeListState(merged));
  };

  const rows = useRef<(HTMLTableRowElement | null)[]>([]);
  const onRowKey = (event: KeyboardEvent<HTMLTableRowElement>, index: number, log: LogSummary) => {
    const move = (to: number) => {
      event.preventDefault();
      rows.current[Math.max(0, Math.min(to, (data?.data.length ?? 1) - 1))]?.focus();
    };
    if (event.key === "ArrowDown" || event.key === "j") move(index + 1);
    else if (event.key === "ArrowUp" || event.key === "k") move(index - 1);
    else if (event.key === "Home") move(0);
    else if (event.key === "End") move(Number.MAX_SAFE_INTEGER);
    else if (event.key === "Enter" || event.key === "o") {
      event.preventDefault();
      navigate(`/logs/${log.id}`, { state: { back: `/logs?${search.toString()}` } });
    }
  };

  // "/" focuses the search box, as in most log tools.
  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (event.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) {
        event.preventDefault();
        document.getElementById("log-search")?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const pagination = data?.pagination;
  const usage = usageColumns(data?.data ?? []);
  const totalLabel = pagination?.total == null ? "" : `${pagination.total_is_exact ? "" : "about "}${formatCount(pagination.total)} logs`;
  const sortBy = (field: "executed_at" | "execution_time_seconds") => {
    const desc = `-${field}` as Ordering;
    update({ ordering: state.ordering === desc ? (field as Ordering) : desc });
  };
  const sortState = (field: string): "ascending" | "descending" | "none" =>
    state.ordering === field ? "ascending" : state.ordering === `-${field}` ? "descending" : "none";

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Logs</h1>
        <div className="flex items-center gap-3 text-sm">
          {liveEnabled ? (
            <span className="inline-flex items-center gap-1.5 text-xs text-slate-600">
              <span className="h-2 w-2 animate-pulse rounded-full bg-emerald-500" aria-hidden="true" /> Live
            </span>
          ) : null}
          {activeFilterCount(state.filters) ? (
            <button type="button" className="text-indigo-800 underline" onClick={() => setSearch(new URLSearchParams())}>
              Clear filters
            </button>
          ) : null}
          <a
            href={exportUrl(state.filters, state.ordering)}
            download
            className="rounded border border-slate-300 bg-white px-3 py-1.5 font-medium text-slate-800 hover:bg-slate-100"
            data-testid="export-csv"
          >
            Export CSV
          </a>
        </div>
      </div>
      <FilterPanel filters={state.filters} onChange={(filters) => update({ filters })} />

      {error ? <ErrorState error={error} onRetry={reload} /> : null}
      {!data && loading && !error ? <Spinner label="Loading logs…" /> : null}
      {data && !error ? (
        data.data.length === 0 ? (
          <EmptyState title="No logs match these filters.">
            {activeFilterCount(state.filters) ? "Try removing a filter." : "Logs appear here as soon as your workflow sends them."}
          </EmptyState>
        ) : (
          <div className="overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm">
            <div className="flex flex-wrap items-center justify-between gap-2 border-b border-slate-200 px-3 py-2 text-sm text-slate-700">
              <span data-testid="list-total">{totalLabel}</span>
              <span className="hidden text-xs text-slate-600 md:inline">↑/↓ or j/k to move, Enter to open, / to search</span>
            </div>
            <div className="overflow-x-auto">
              <table className="w-full text-left text-sm" aria-label="Logs" aria-busy={loading}>
                <thead className="bg-slate-50 text-xs uppercase text-slate-600">
                  <tr>
                    <th className="px-3 py-2 font-medium" aria-sort={sortState("executed_at")}>
                      <button type="button" onClick={() => sortBy("executed_at")} className="uppercase hover:text-slate-900">
                        Time {state.ordering.endsWith("executed_at") ? (state.ordering.startsWith("-") ? "↓" : "↑") : ""}
                      </button>
                    </th>
                    <th className="px-3 py-2 font-medium">Ticket</th>
                    <th className="px-3 py-2 font-medium">Status</th>
                    <th className="px-3 py-2 font-medium">Category</th>
                    <th className="hidden px-3 py-2 font-medium md:table-cell">Env</th>
                    <th className="hidden px-3 py-2 font-medium md:table-cell">Version</th>
                    <th className="px-3 py-2 text-right font-medium" aria-sort={sortState("execution_time_seconds")}>
                      <button type="button" onClick={() => sortBy("execution_time_seconds")} className="uppercase hover:text-slate-900">
                        Duration {state.ordering.endsWith("execution_time_seconds") ? (state.ordering.startsWith("-") ? "↓" : "↑") : ""}
                      </button>
                    </th>
                    <th className="hidden px-3 py-2 text-right font-medium lg:table-cell">Confidence</th>
                    {usage.tokens ? <th className="hidden px-3 py-2 text-right font-medium lg:table-cell">Tokens</th> : null}
                    {usage.cost ? <th className="hidden px-3 py-2 text-right font-medium lg:table-cell">Cost</th> : null}
                    <th className="hidden px-3 py-2 font-medium lg:table-cell">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {data.data.map((log, index) => (
                    <tr
                      key={log.id}
                      ref={(el) => {
                        rows.current[index] = el;
                      }}
                      tabIndex={0}
                      data-testid="log-row"
                      data-log-id={log.id}
                      onKeyDown={(event) => onRowKey(event, index, log)}
                      onClick={() => navigate(`/logs/${log.id}`, { state: { back: `/logs?${search.toString()}` } })}
                      className={`cursor-pointer border-t border-slate-100 hover:bg-indigo-50 focus:bg-indigo-50 ${fresh.has(log.id) ? "bg-emerald-50" : ""}`}
                    >
                      <td className="whitespace-nowrap px-3 py-2 tabular-nums text-slate-800">{formatDateTime(log.executed_at)}</td>
                      <td className="whitespace-nowrap px-3 py-2">
                        <Link to={`/logs/${log.id}`} onClick={(e) => e.stopPropagation()} tabIndex={-1} className="font-medium text-indigo-800 hover:underline">
                          {log.ticket_id ?? "—"}
                        </Link>
                      </td>
                      <td className="px-3 py-2">
                        <StatusBadge status={log.status} />
                      </td>
                      <td className="px-3 py-2 text-slate-800">{log.category ?? "—"}</td>
                      <td className="hidden px-3 py-2 text-slate-700 md:table-cell">{log.environment}</td>
                      <td className="hidden px-3 py-2 text-slate-700 md:table-cell">{log.workflow_version ?? "—"}</td>
                      <td className="whitespace-nowrap px-3 py-2 text-right tabular-nums">{formatSeconds(log.execution_time_seconds)}</td>
                      <td className="hidden px-3 py-2 text-right tabular-nums lg:table-cell">{confidenceOf(log)}</td>
                      {usage.tokens ? <td className="hidden px-3 py-2 text-right tabular-nums lg:table-cell" data-testid="tokens-cell">{metricNumber(log, "total_tokens")}</td> : null}
                      {usage.cost ? <td className="hidden px-3 py-2 text-right tabular-nums lg:table-cell">{metricNumber(log, "cost", 4)}</td> : null}
                      <td className="hidden max-w-[16rem] truncate px-3 py-2 text-red-800 lg:table-cell" title={log.workflow_error ?? ""}>
                        {log.workflow_error_type ? `${log.workflow_error_type}${log.workflow_error_node ? ` @ ${log.workflow_error_node}` : ""}` : ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager state={state} pages={pagination?.pages ?? null} hasNext={Boolean(pagination?.pages && state.page < pagination.pages)} onChange={update} />
          </div>
        )
      ) : null}
    </div>
  );
}

function Pager({ state, pages, hasNext, onChange }: { state: ListState; pages: number | null; hasNext: boolean; onChange: (next: Partial<ListState>) => void }) {
  return (
    <nav aria-label="Pagination" className="flex flex-wrap items-center justify-between gap-2 border-t border-slate-200 px-3 py-2 text-sm">
      <label className="text-slate-700">
        Rows per page
        <select value={state.pageSize} onChange={(e) => onChange({ pageSize: Number(e.target.value), page: 1 })} className="ml-2 rounded border border-slate-300 bg-white px-1 py-0.5">
          {PAGE_SIZES.map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </select>
      </label>
      <div className="flex items-center gap-2">
        <button type="button" disabled={state.page <= 1} onClick={() => onChange({ page: state.page - 1 })} className="rounded border border-slate-300 px-3 py-1 disabled:opacity-50">
          ← Previous
        </button>
        <span className="tabular-nums text-slate-700" data-testid="page-label">
          Page {formatCount(state.page)}
          {pages ? ` of ${formatCount(pages)}` : ""}
        </span>
        <button type="button" disabled={!hasNext} onClick={() => onChange({ page: state.page + 1 })} className="rounded border border-slate-300 px-3 py-1 disabled:opacity-50">
          Next →
        </button>
      </div>
    </nav>
  );
}

/** Ids that appeared in this list since the previous load of the same query (highlighted). */
function useFreshIds(rows: LogSummary[] | undefined, key: string): Set<string> {
  const seen = useRef<{ key: string; ids: Set<string> } | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const ids = useMemo(() => (rows ?? []).map((r) => r.id), [rows]);
  useEffect(() => {
    if (!rows) return;
    const previous = seen.current;
    if (previous && previous.key === key) {
      const added = ids.filter((id) => !previous.ids.has(id));
      if (added.length) {
        setFresh(new Set(added));
        const timer = window.setTimeout(() => setFresh(new Set()), 4000);
        seen.current = { key, ids: new Set(ids) };
        return () => window.clearTimeout(timer);
      }
    }
    seen.current = { key, ids: new Set(ids) };
  }, [ids, key, rows]);
  return fresh;
}
