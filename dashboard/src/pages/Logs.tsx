import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router-dom";
import { ApiError, getJson } from "../api/client";
import type { LogList, LogSummary } from "../api/types";
import { useClient } from "../client";
import { ExportButton } from "../components/ExportButton";
import { FilterChips, FilterPanel } from "../components/FilterPanel";
import { SaveViewButton } from "../components/SavedViews";
import { EmptyState, ErrorState, LiveBadge, Spinner, StatusBadge, Truncate, useTitle } from "../components/ui";
import {
  DEFAULT_ORDERING,
  FILTER_LABELS,
  PAGE_SIZES,
  activeFilterCount,
  apiListParams,
  readListState,
  searchPages,
  writeListState,
  type ListState,
  type Ordering,
} from "../lib/filters";
import { formatCount, formatDateTime, formatSeconds, formatShortDateTime, plural } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";

/** The step of the trace a search matched (`payload.trace.react_iterations[2].thought` -> 2). */
export function matchedStep(field: string | undefined): number | null {
  const found = field ? /^payload\.trace(?:\.(?:react_iterations|iterations|react_steps|steps))?\[(\d+)\]/.exec(field) : null;
  return found ? Number(found[1]) : null;
}

/** The search's snippet with its matches marked. */
function Snippet({ match }: { match: NonNullable<LogSummary["match"]> }) {
  const parts: ReactNode[] = [];
  let at = 0;
  for (const [start, end] of match.highlights) {
    if (start < at) continue;
    parts.push(match.snippet.slice(at, start));
    parts.push(<mark key={start} className="rounded bg-yellow-200 px-0.5 text-slate-900">{match.snippet.slice(start, end)}</mark>);
    at = end;
  }
  parts.push(match.snippet.slice(at));
  return (
    <>
      <span className="mr-1 font-medium text-slate-600">{match.field}:</span>
      {parts}
    </>
  );
}

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
  const client = useClient();
  const navigate = useNavigate();
  useTitle("Logs", client.name);
  const query = apiListParams(state);
  const key = client.slug + "|" + new URLSearchParams(query).toString();

  // Live: only the first page of the newest-first list changes when logs arrive. The probe's
  // baseline is taken with the page's own data (see lib/live.ts).
  const liveEnabled = state.page === 1 && state.ordering === DEFAULT_ORDERING;
  const liveReload = useRef(false);
  const live = useLiveUpdates(
    key,
    () => {
      liveReload.current = true;
      reload();
    },
    { enabled: liveEnabled },
  );
  const { data, error, loading, reload } = useLoader(key, () => getJson<LogList>("/api/v1/logs", query));
  const fresh = useFreshIds(data?.data, key, liveReload);

  const location = useLocation();
  const update = (next: Partial<ListState>, cursors: string[] = []) => {
    const merged = { ...state, ...next };
    if (!("page" in next)) merged.page = 1; // a new filter or order starts at page 1
    if (!("cursor" in next)) delete merged.cursor;
    // A search's pages by cursor: the cursors of the pages before this one ride in the history
    // entry, so "Previous" (and the browser's back) return to them.
    setSearch(writeListState(merged), cursors.length ? { state: { cursors } } : undefined);
  };
  const earlierCursors: string[] = (location.state as { cursors?: string[] } | null)?.cursors ?? [];
  const detailPath = (log: LogSummary) => {
    if (!state.filters.q) return client.path(`/logs/${log.id}`);
    // The detail page marks what matched (the first highlighted words) and opens its step.
    const first = log.match?.highlights[0];
    const params = new URLSearchParams({ highlight: first ? log.match!.snippet.slice(first[0], first[1]) : state.filters.q });
    const step = matchedStep(log.match?.field);
    if (step !== null) params.set("step", String(step));
    return client.path(`/logs/${log.id}?${params.toString()}`);
  };
  const searchError = error instanceof ApiError && error.code === "search_too_broad" ? error.message : undefined;
  const open = (log: LogSummary) => navigate(detailPath(log), { state: { back: client.path(`/logs?${search.toString()}`) } });

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
      open(log);
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
  const cursorPaging = searchPages(state);
  const totalLabel = cursorPaging ? searchRange(state, data?.data.length ?? 0, Boolean(pagination?.next_cursor))
    : pagination?.total == null ? "" : `${pagination.total_is_exact ? "" : "about "}${plural(pagination.total, "log")}`;
  const sortBy = (field: "executed_at" | "execution_time_seconds") => {
    const desc = `-${field}` as Ordering;
    update({ ordering: state.ordering === desc ? (field as Ordering) : desc });
  };
  const sortState = (field: string): "ascending" | "descending" | "none" =>
    state.ordering === field ? "ascending" : state.ordering === `-${field}` ? "descending" : "none";
  const pastTheEnd = data && data.data.length === 0 && state.page > 1 && (pagination?.total ?? 0) > 0;

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Logs</h1>
        <div className="flex flex-wrap items-center gap-3 text-sm">
          <LiveBadge status={live} />
          {activeFilterCount(state.filters) ? (
            <button type="button" className="text-indigo-800 underline" onClick={() => setSearch(new URLSearchParams())}>
              Clear filters
            </button>
          ) : null}
          <SaveViewButton page="logs" />
          <ExportButton filters={state.filters} ordering={state.ordering} />
        </div>
      </div>
      <FilterPanel filters={state.filters} onChange={(filters) => update({ filters })} searchError={searchError} />
      <FilterChips filters={state.filters} onChange={(filters) => update({ filters })} />

      {error && !searchError ? <ErrorState error={error} onRetry={reload} labels={FILTER_LABELS} /> : null}
      {!data && loading && !error ? <Spinner label="Loading logs…" /> : null}
      {pastTheEnd ? (
        <EmptyState title={`Page ${formatCount(state.page)} is past the end.`}>
          These filters match {plural(pagination?.total ?? 0, "log")} on {plural(pagination?.pages ?? 1, "page")}.{" "}
          <button type="button" className="text-indigo-800 underline" onClick={() => update({ page: pagination?.pages ?? 1 })}>
            Go to the last page
          </button>
        </EmptyState>
      ) : null}
      {data && !error && !pastTheEnd ? (
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
              <table className="w-full table-fixed text-left text-sm" aria-label="Logs" aria-busy={loading}>
                <colgroup>
                  <col className="w-[6.5rem] sm:w-[12.5rem]" />
                  <col className="sm:w-[9rem]" />
                  <col className="w-[5.75rem]" />
                  <col className="hidden sm:table-column" />
                  <col className="hidden md:table-column md:w-[7rem]" />
                  <col className="hidden md:table-column md:w-[6rem]" />
                  <col className="w-[4.75rem] sm:w-[6rem]" />
                  <col className="hidden lg:table-column lg:w-[6.5rem]" />
                  <col className="hidden lg:table-column" />
                </colgroup>
                <thead className="bg-slate-50 text-xs uppercase text-slate-600">
                  <tr>
                    <th className="px-2 py-2 sm:px-3 font-medium" aria-sort={sortState("executed_at")}>
                      <button type="button" onClick={() => sortBy("executed_at")} className="uppercase hover:text-slate-900">
                        Time {state.ordering.endsWith("executed_at") ? (state.ordering.startsWith("-") ? "↓" : "↑") : ""}
                      </button>
                    </th>
                    <th className="px-2 py-2 sm:px-3 font-medium">Ticket</th>
                    <th className="px-2 py-2 sm:px-3 font-medium">Status</th>
                    <th className="hidden px-2 py-2 sm:px-3 font-medium sm:table-cell">Category</th>
                    <th className="hidden px-2 py-2 sm:px-3 font-medium md:table-cell">Env</th>
                    <th className="hidden px-2 py-2 sm:px-3 font-medium md:table-cell">Version</th>
                    <th className="px-2 py-2 sm:px-3 text-right font-medium" aria-sort={sortState("execution_time_seconds")}>
                      <button type="button" onClick={() => sortBy("execution_time_seconds")} className="uppercase hover:text-slate-900">
                        Duration {state.ordering.endsWith("execution_time_seconds") ? (state.ordering.startsWith("-") ? "↓" : "↑") : ""}
                      </button>
                    </th>
                    <th className="hidden px-2 py-2 sm:px-3 text-right font-medium lg:table-cell">Confidence</th>
                    {usage.tokens ? <th className="hidden px-2 py-2 sm:px-3 text-right font-medium lg:table-cell">Tokens</th> : null}
                    {usage.cost ? <th className="hidden px-2 py-2 sm:px-3 text-right font-medium lg:table-cell">Cost</th> : null}
                    <th className="hidden px-2 py-2 sm:px-3 font-medium lg:table-cell">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {data.data.map((log, index) => (
                    <LogTableRow
                      key={log.id}
                      log={log}
                      fresh={fresh.has(log.id)}
                      href={detailPath(log)}
                      rowRef={(el) => {
                        rows.current[index] = el;
                      }}
                      onKeyDown={(event) => onRowKey(event, index, log)}
                      usage={usage}
                      onOpen={() => open(log)}
                    />
                  ))}
                </tbody>
              </table>
            </div>
            {cursorPaging ? (
              <Pager
                state={state}
                pages={null}
                hasNext={Boolean(pagination?.next_cursor)}
                onChange={update}
                onPrevious={() => {
                  const before = earlierCursors.slice(0, -1);
                  const cursor = earlierCursors[earlierCursors.length - 1];
                  // Without the history entry's cursors (a shared link), back to the newest.
                  update(cursor && state.page > 2 ? { page: state.page - 1, cursor } : { page: 1 }, cursor ? before : []);
                }}
                onNext={() => update({ page: state.page + 1, cursor: pagination?.next_cursor ?? undefined }, [...earlierCursors, state.cursor ?? ""])}
              />
            ) : (
              <Pager state={state} pages={pagination?.pages ?? null} hasNext={Boolean(pagination?.pages && state.page < pagination.pages)} onChange={update} />
            )}
          </div>
        )
      ) : null}
    </div>
  );
}

function LogTableRow({ log, fresh, usage, href, rowRef, onKeyDown, onOpen }: {
  log: LogSummary;
  fresh: boolean;
  usage: { tokens: boolean; cost: boolean };
  href: string;
  rowRef: (el: HTMLTableRowElement | null) => void;
  onKeyDown: (event: KeyboardEvent<HTMLTableRowElement>) => void;
  onOpen: () => void;
}) {
  const error = log.workflow_error_type ? `${log.workflow_error_type}${log.workflow_error_node ? ` @ ${log.workflow_error_node}` : ""}` : "";
  return (
    <>
      <tr
        ref={rowRef}
        tabIndex={0}
        data-testid="log-row"
        data-log-id={log.id}
        data-fresh={fresh || undefined}
        onKeyDown={onKeyDown}
        onClick={onOpen}
        className={`cursor-pointer border-t border-slate-100 hover:bg-indigo-50 focus:bg-indigo-50 ${fresh ? "bg-emerald-50" : ""}`}
      >
        <td className="truncate px-2 py-2 tabular-nums text-slate-800 sm:px-3" title={formatDateTime(log.executed_at)}>
          <span className="sm:hidden">{formatShortDateTime(log.executed_at)}</span>
          <span className="hidden sm:inline">{formatDateTime(log.executed_at)}</span>
        </td>
        <td className="px-2 py-2 sm:px-3">
          <Link to={href} onClick={(e) => e.stopPropagation()} tabIndex={-1} className="block truncate font-medium text-indigo-800 hover:underline" title={log.ticket_id ?? ""}>
            {log.ticket_id ?? "—"}
          </Link>
        </td>
        <td className="px-2 py-2 sm:px-3">
          <StatusBadge status={log.status} />
        </td>
        <td className="hidden px-2 py-2 sm:px-3 text-slate-800 sm:table-cell">
          <Truncate text={log.category} maxWidth="max-w-full" />
        </td>
        <td className="hidden px-2 py-2 sm:px-3 text-slate-700 md:table-cell">{log.environment}</td>
        <td className="hidden px-2 py-2 sm:px-3 text-slate-700 md:table-cell">
          <Truncate text={log.workflow_version} maxWidth="max-w-full" />
        </td>
        <td className="truncate px-2 py-2 sm:px-3 text-right tabular-nums">{formatSeconds(log.execution_time_seconds)}</td>
        <td className="hidden px-2 py-2 sm:px-3 text-right tabular-nums lg:table-cell">{confidenceOf(log)}</td>
        {usage.tokens ? <td className="hidden px-2 py-2 sm:px-3 text-right tabular-nums lg:table-cell" data-testid="tokens-cell">{metricNumber(log, "total_tokens")}</td> : null}
        {usage.cost ? <td className="hidden px-2 py-2 sm:px-3 text-right tabular-nums lg:table-cell">{metricNumber(log, "cost", 4)}</td> : null}
        <td className="hidden px-2 py-2 sm:px-3 text-red-800 lg:table-cell">
          <span className="block truncate" title={log.workflow_error ?? error}>
            {error}
          </span>
        </td>
      </tr>
      {log.match ? (
        <tr className="border-0" data-testid="log-snippet">
          <td colSpan={9 + Number(usage.tokens) + Number(usage.cost)} className="truncate px-3 pb-2 pt-0 text-xs text-slate-700" title={log.match.snippet}>
            <Snippet match={log.match} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** "Matches 51–100, more on the next page": a search paged by cursor has no total, except when
 *  its first page is its last ("3 logs"). */
function searchRange(state: ListState, rows: number, more: boolean): string {
  if (!rows) return "";
  if (state.page === 1 && !more) return plural(rows, "log");
  const first = (state.page - 1) * state.pageSize + 1;
  return `Matches ${formatCount(first)}–${formatCount(first + rows - 1)}${more ? ", more on the next page" : ""}`;
}

function Pager({ state, pages, hasNext, onChange, onPrevious, onNext }: {
  state: ListState;
  pages: number | null;
  hasNext: boolean;
  onChange: (next: Partial<ListState>) => void;
  onPrevious?: () => void;
  onNext?: () => void;
}) {
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
        <button type="button" disabled={state.page <= 1} onClick={onPrevious ?? (() => onChange({ page: state.page - 1 }))} className="rounded border border-slate-300 px-3 py-1 disabled:opacity-50">
          ← Previous
        </button>
        <span className="tabular-nums text-slate-700" data-testid="page-label">
          Page {formatCount(state.page)}
          {pages ? ` of ${formatCount(pages)}` : ""}
        </span>
        <button type="button" disabled={!hasNext} onClick={onNext ?? (() => onChange({ page: state.page + 1 }))} className="rounded border border-slate-300 px-3 py-1 disabled:opacity-50">
          Next →
        </button>
      </div>
    </nav>
  );
}

/** Ids that a live update brought into this list (highlighted a few seconds). A new filter, a
 * new page or the first load is not "new": only a reload the live probe triggered counts, and
 * only against the rows of the same query shown before it. */
function useFreshIds(rows: LogSummary[] | undefined, key: string, liveReload: React.MutableRefObject<boolean>): Set<string> {
  const shown = useRef<{ key: string; ids: Set<string> } | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  useEffect(() => {
    if (!rows) return;
    const ids = rows.map((r) => r.id);
    const previous = shown.current;
    const live = liveReload.current;
    liveReload.current = false;
    shown.current = { key, ids: new Set(ids) };
    if (!live || !previous || previous.key !== key) return;
    const added = ids.filter((id) => !previous.ids.has(id));
    if (!added.length) return;
    setFresh(new Set(added));
    const timer = window.setTimeout(() => setFresh(new Set()), 4000);
    return () => window.clearTimeout(timer);
  }, [rows, key, liveReload]);
  return fresh;
}
