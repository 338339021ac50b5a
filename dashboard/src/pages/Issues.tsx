// Error issues: failures grouped by error type × node × normalised message, with their count
// and trend in the period, the versions they occur in, when they were first and last seen, and
// "new in vX" when they appeared with a version.
import { Link, useSearchParams } from "react-router-dom";
import { api, getJson, unwrap } from "../api/client";
import type { IssueRow, IssuesResponse, LogValues } from "../api/types";
import { useClient } from "../client";
import { RangeBar } from "../components/RangeBar";
import { SaveViewButton } from "../components/SavedViews";
import { EmptyState, ErrorState, Sparkline, Spinner, useTitle } from "../components/ui";
import { logsQuery, periodParams } from "../lib/drill";
import { formatAgo, formatCount, formatDateTime, plural } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { rangeKey, rangeParams, readRange, writeRange } from "../lib/range";

const SORTS = [
  { value: "count", label: "Most runs" },
  { value: "recent", label: "Latest" },
  { value: "new", label: "Newest" },
] as const;
type Sort = (typeof SORTS)[number]["value"];

export function issueTitle(row: Pick<IssueRow, "workflow_error_type" | "workflow_error_node">): string {
  const type = row.workflow_error_type ?? "Failed without an error type";
  return row.workflow_error_node ? `${type} @ ${row.workflow_error_node}` : type;
}

export function IssuesPage() {
  const [search, setSearch] = useSearchParams();
  const range = readRange(search);
  const client = useClient();
  useTitle("Error issues", client.name);
  const sort = (SORTS.find((s) => s.value === search.get("sort"))?.value ?? "count") as Sort;
  const version = search.get("version") ?? "";
  const newIn = search.get("new_in") ?? "";
  const { params, interval } = rangeParams(range);
  const key = `${client.slug}|${rangeKey(range)}|${sort}|${version}|${newIn}`;
  const live = useLiveUpdates(key, () => issues.reload());
  const issues = useLoader(key, () =>
    api
      .GET("/api/v1/metrics/issues", {
        params: {
          query: { ...params, interval, sort, limit: 100, new_in: newIn || undefined, workflow_version: version ? [version] : undefined },
        },
      })
      .then(unwrap),
  );
  const versions = useLoader(`${client.slug}|versions`, () => getJson<LogValues>("/api/v1/logs/values", { field: "workflow_version" }));
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(name, value);
    else next.delete(name);
    setSearch(next);
  };

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Error issues</h1>
        <SaveViewButton page="issues" />
      </div>
      <RangeBar range={range} onChange={(next) => setSearch(writeRange(search, next))} live={live}>
        <label className="text-sm text-slate-700">
          Sort
          <select aria-label="Sort" value={sort} onChange={(e) => set("sort", e.target.value === "count" ? "" : e.target.value)} className="ml-2 rounded border border-slate-300 bg-white px-2 py-1">
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label className="text-sm text-slate-700">
          Version
          <select aria-label="Version" value={version} onChange={(e) => set("version", e.target.value)} className="ml-2 max-w-[10rem] rounded border border-slate-300 bg-white px-2 py-1">
            <option value="">All</option>
            {(versions.data?.values ?? []).map((v) => (
              <option key={v.value} value={v.value}>
                {v.value}
              </option>
            ))}
          </select>
        </label>
        <label className="text-sm text-slate-700">
          New in
          <select aria-label="New in version" value={newIn} onChange={(e) => set("new_in", e.target.value)} className="ml-2 max-w-[10rem] rounded border border-slate-300 bg-white px-2 py-1">
            <option value="">Any version</option>
            {(versions.data?.values ?? []).map((v) => (
              <option key={v.value} value={v.value}>
                {v.value}
              </option>
            ))}
          </select>
        </label>
      </RangeBar>
      {issues.error && !issues.data ? <ErrorState error={issues.error} onRetry={issues.reload} /> : null}
      {!issues.data && issues.loading ? <Spinner label="Loading issues…" /> : null}
      {issues.data ? <IssueTable data={issues.data} environment={range.environment} rangeSearch={writeRange(new URLSearchParams(), range).toString()} /> : null}
    </div>
  );
}

function IssueTable({ data, environment, rangeSearch }: { data: IssuesResponse; environment: string; rangeSearch: string }) {
  const client = useClient();
  if (!data.data.length) return <EmptyState title="No failures in this period.">Every run of the period succeeded or was partial without an error.</EmptyState>;
  const period = periodParams(data.period_start, data.period_end, environment);
  return (
    <div className="rounded-lg border border-slate-200 bg-white shadow-sm">
      <p className="border-b border-slate-200 px-3 py-2 text-sm text-slate-700" data-testid="issues-total">
        {plural(data.total, "issue")}, {plural(data.failing_logs, "failing run")} · {formatDateTime(data.period_start)} → {formatDateTime(data.period_end)}
      </p>
      <table className="w-full table-fixed text-left text-sm" data-testid="issues-table">
        <thead className="bg-slate-50 text-xs uppercase text-slate-600">
          <tr>
            <th className="px-3 py-2 font-medium">Issue</th>
            <th className="w-[4.5rem] px-2 py-2 text-right font-medium">Runs</th>
            <th className="hidden w-36 px-2 py-2 font-medium md:table-cell">Trend</th>
            <th className="hidden w-40 px-2 py-2 font-medium lg:table-cell">Versions</th>
            <th className="hidden w-28 px-2 py-2 font-medium sm:table-cell">Last seen</th>
            <th className="hidden w-28 px-2 py-2 font-medium lg:table-cell">First seen</th>
          </tr>
        </thead>
        <tbody>
          {data.data.map((row) => (
            <tr key={row.fingerprint} className="border-t border-slate-100 align-top" data-testid="issue-row">
              <td className="min-w-0 px-3 py-2">
                <Link
                  to={client.path(`/issues/${row.fingerprint}?${rangeSearch}`)}
                  className="block truncate font-semibold text-indigo-800 hover:underline"
                  title={issueTitle(row)}
                >
                  {issueTitle(row)}
                </Link>
                <span className="block truncate text-xs text-slate-700" title={row.pattern}>
                  {row.pattern || "(no message)"}
                </span>
                <span className="mt-1 flex flex-wrap items-center gap-2 text-xs">
                  {row.new_in_version ? (
                    <span className="rounded bg-amber-100 px-1.5 py-0.5 font-semibold text-amber-950 ring-1 ring-inset ring-amber-300" data-testid="new-in">
                      new in {row.new_in_version}
                    </span>
                  ) : null}
                  <Link to={client.path(`/logs${logsQuery({ ...period, error_issue: row.fingerprint })}`)} className="text-indigo-800 underline">
                    {plural(row.count, "run")} →
                  </Link>
                </span>
              </td>
              <td className="px-2 py-2 text-right font-semibold tabular-nums">{formatCount(row.count)}</td>
              <td className="hidden px-2 py-2 md:table-cell">
                <Sparkline values={row.trend} label={`Trend of ${issueTitle(row)}: ${row.trend.join(", ")} per ${data.interval}`} />
              </td>
              <td className="hidden px-2 py-2 lg:table-cell">
                <span className="flex flex-wrap gap-1">
                  {row.versions.slice(0, 4).map((v) => (
                    <span key={v.workflow_version ?? "none"} className="max-w-full truncate rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-800" title={`${v.workflow_version ?? "no version"}: ${v.count}`}>
                      {v.workflow_version ?? "none"} · {formatCount(v.count)}
                    </span>
                  ))}
                  {row.versions.length > 4 ? <span className="text-xs text-slate-600">+{row.versions.length - 4}</span> : null}
                </span>
              </td>
              <td className="hidden px-2 py-2 text-slate-800 sm:table-cell" title={formatDateTime(row.last_seen)}>
                {formatAgo(row.last_seen)}
              </td>
              <td className="hidden px-2 py-2 text-slate-800 lg:table-cell" title={formatDateTime(row.first_seen)}>
                {formatAgo(row.first_seen)}
                {row.first_version ? <span className="block text-xs text-slate-600">in {row.first_version}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
