import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { lazy, Suspense } from "react";
import { api, unwrap } from "../api/client";
import { STATUSES, type ErrorRow, type ErrorsResponse, type Overview, type TimeseriesResponse, type Usage } from "../api/types";
import { useClient, type ClientValue } from "../client";
import { KpiCard } from "../components/KpiCard";
import { RangeBar } from "../components/RangeBar";
import { SaveViewButton } from "../components/SavedViews";
import { Card, EmptyState, ErrorState, STATUS_COLORS, Spinner, Truncate, useTitle } from "../components/ui";
import { bucketParams, logsQuery, periodParams, type LogFilterParams } from "../lib/drill";
import { formatBucket, formatCount, formatDateTime, formatPercent, formatSeconds } from "../lib/format";
import { useLoader, type Loaded } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { rangeKey, rangeParams, readRange, writeRange, type RangeState } from "../lib/range";

// The chart library is big: loading it apart lets the KPI cards appear before it arrives.
const TimeseriesChart = lazy(() => import("../components/TimeseriesChart"));

// Three independent requests, each drawn as soon as it arrives: the KPIs don't wait for the
// chart, and one failing endpoint shows its own error instead of blanking the page.
function loadKpis(range: RangeState): Promise<Overview> {
  return api.GET("/api/v1/metrics/overview", { params: { query: rangeParams(range).params } }).then(unwrap);
}

function loadSeries(range: RangeState): Promise<TimeseriesResponse> {
  const { params, interval } = rangeParams(range);
  return api.GET("/api/v1/metrics/timeseries", { params: { query: { ...params, interval } } }).then(unwrap);
}

function loadErrors(range: RangeState): Promise<ErrorsResponse> {
  return api.GET("/api/v1/metrics/errors", { params: { query: { ...rangeParams(range).params, limit: 10 } } }).then(unwrap);
}

// Tokens and cost of the runs received over OpenTelemetry; shown only when the period has any.
function loadUsage(range: RangeState): Promise<Usage> {
  return api.GET("/api/v1/metrics/usage", { params: { query: rangeParams(range).params } }).then(unwrap);
}

function previousLabel(range: RangeState): string {
  if (range.preset === "24h") return "previous 24 h";
  if (range.preset === "custom") return "previous period";
  return `previous ${range.preset.replace("d", "")} days`;
}

export function OverviewPage() {
  const [search, setSearch] = useSearchParams();
  const range = readRange(search);
  const client = useClient();
  useTitle("Overview", client.name);
  const key = `${client.slug}|${rangeKey(range)}`;
  const live = useLiveUpdates(key, () => {
    kpis.reload();
    series.reload();
    errors.reload();
    usage.reload();
  });
  const kpis = useLoader(key, () => loadKpis(range));
  const series = useLoader(key, () => loadSeries(range));
  const errors = useLoader(key, () => loadErrors(range));
  const usage = useLoader(key, () => loadUsage(range));

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Overview</h1>
        <SaveViewButton page="overview" />
      </div>
      <RangeBar range={range} onChange={(next) => setSearch(writeRange(search, next))} live={live} />
      {kpis.error && !kpis.data ? <ErrorState error={kpis.error} onRetry={kpis.reload} /> : null}
      {!kpis.data && kpis.loading ? <Spinner label="Loading the overview…" /> : null}
      {kpis.data ? <OverviewBody overview={kpis.data} series={series} errors={errors} usage={usage.data} range={range} client={client} /> : null}
    </div>
  );
}

function OverviewBody({ overview, series, errors, usage, range, client }: { overview: Overview; series: Loaded<TimeseriesResponse>; errors: Loaded<ErrorsResponse>; usage?: Usage; range: RangeState; client: ClientValue }) {
  const navigate = useNavigate();
  const interval = rangeParams(range).interval;
  const prev = overview.previous;
  const label = previousLabel(range);
  const previousEmpty = prev.total_tickets === 0;
  const period = periodParams(overview.period_start, overview.period_end, range.environment);
  const logs = (extra: LogFilterParams = {}) => client.path(`/logs${logsQuery({ ...period, ...extra })}`);
  const kpi = { previousLabel: label, previousEmpty };

  return (
    <>
      <p className="text-sm text-slate-600">
        {formatDateTime(overview.period_start)} → {formatDateTime(overview.period_end)}
      </p>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
        <KpiCard testId="kpi-tickets" label="Tickets" value={formatCount(overview.total_tickets)} current={overview.total_tickets} previous={prev.total_tickets} unit="percent" direction="neutral" {...kpi} />
        <KpiCard testId="kpi-success" label="Success rate" value={formatPercent(overview.success_rate)} current={overview.success_rate} previous={prev.success_rate} unit="points" direction="up-good" {...kpi} />
        <KpiCard testId="kpi-avg" label="Average time" value={formatSeconds(overview.avg_execution_time)} current={overview.avg_execution_time} previous={prev.avg_execution_time} unit="percent" direction="down-good" {...kpi} />
        <KpiCard testId="kpi-p95" label="p95 time" value={formatSeconds(overview.p95_execution_time)} current={overview.p95_execution_time} previous={prev.p95_execution_time} unit="percent" direction="down-good" {...kpi} />
        <KpiCard testId="kpi-errors" label="Errors (failed + error)" value={formatCount(overview.error_count)} current={overview.error_count} previous={prev.error_count} unit="percent" direction="down-good" {...kpi} />
        {usage && (usage.runs || usage.previous?.runs) ? (
          <KpiCard testId="kpi-tokens" label="Tokens (OpenTelemetry runs)" value={formatCount(usage.total_tokens)} current={usage.total_tokens} previous={usage.previous?.total_tokens ?? 0} unit="percent" direction="neutral" previousLabel={label} previousEmpty={!usage.previous?.runs} />
        ) : null}
        {usage && typeof usage.cost === "number" ? (
          <KpiCard testId="kpi-cost" label="Cost" value={usage.cost.toFixed(usage.cost < 1 ? 4 : 2)} current={usage.cost} previous={usage.previous?.cost ?? 0} unit="percent" direction="down-good" previousLabel={label} previousEmpty={!usage.previous?.runs} />
        ) : null}
      </div>

      {overview.total_tickets === 0 ? (
        <EmptyState title="No tickets in this period.">Pick a longer range, or check that your workflow is sending logs.</EmptyState>
      ) : (
        <>
          <Card title="Tickets and success rate over time" actions={<span className="text-xs text-slate-600">Click a {interval} to see its logs</span>}>
            <Pending loaded={series} label="Loading the chart…">
              {(data) => (
                <>
                  <Suspense fallback={<Spinner label="Loading the chart…" />}>
                    <TimeseriesChart rows={data.data} interval={interval} onBucket={(bucket) => navigate(client.path(`/logs${logsQuery(bucketParams(bucket, interval, range.environment))}`))} />
                  </Suspense>
                  <BucketLinks rows={data.data} interval={interval} environment={range.environment} />
                </>
              )}
            </Pending>
          </Card>

          <div className="grid gap-4 lg:grid-cols-3">
            <Card title="Status breakdown">
              <StatusBreakdown counts={overview.status_counts} total={overview.total_tickets} logs={logs} />
            </Card>
            <Card
              title="Top error types"
              className="min-w-0 lg:col-span-2"
              actions={
                <span className="flex flex-wrap gap-3 text-sm">
                  <Link className="text-indigo-800 underline" to={client.path(`/issues${range.preset !== "7d" ? `?${writeRange(new URLSearchParams(), range)}` : ""}`)}>
                    Error issues →
                  </Link>
                  <Link className="text-indigo-800 underline" to={logs({ status: "FAILED,ERROR" })}>
                    All failed runs →
                  </Link>
                </span>
              }
            >
              <Pending loaded={errors} label="Loading errors…">
                {(data) => <ErrorsTable rows={data.data} logs={logs} client={client} />}
              </Pending>
            </Card>
          </div>
        </>
      )}
    </>
  );
}

/** The chart's buckets as links, for the keyboard and screen readers (the chart is for the mouse). */
function BucketLinks({ rows, interval, environment }: { rows: TimeseriesResponse["data"]; interval: "hour" | "day"; environment: string }) {
  const client = useClient();
  return (
    <details className="mt-2 text-sm">
      <summary className="cursor-pointer text-slate-700">The same figures as a list</summary>
      <ul className="mt-2 grid grid-cols-1 gap-x-6 gap-y-1 sm:grid-cols-2 lg:grid-cols-3">
        {rows.map((row) => (
          <li key={row.bucket} className="flex justify-between gap-3">
            <Link to={client.path(`/logs${logsQuery(bucketParams(row.bucket, interval, environment))}`)} className="text-indigo-800 underline">
              {formatBucket(row.bucket, interval)}
            </Link>
            <span className="tabular-nums text-slate-700">
              {formatCount(row.count)} tickets, {formatCount(row.error_count)} errors
            </span>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** A card body that loads on its own: spinner, error with retry, or the content. */
function Pending<T>({ loaded, label, children }: { loaded: Loaded<T>; label: string; children: (data: T) => React.ReactNode }) {
  if (loaded.data !== undefined) return <>{children(loaded.data)}</>;
  if (loaded.error) return <ErrorState error={loaded.error} onRetry={loaded.reload} />;
  return <Spinner label={label} />;
}

function StatusBreakdown({ counts, total, logs }: { counts: Overview["status_counts"]; total: number; logs: (extra?: LogFilterParams) => string }) {
  const rows = STATUSES.map((status) => ({ status, count: counts?.[status] ?? 0 }));
  return (
    <div className="space-y-3">
      {/* A stacked bar: plain elements, no chart library (cheap to draw, readable without colour). */}
      <div className="flex h-4 w-full overflow-hidden rounded-full bg-slate-100" aria-hidden="true">
        {rows.map((r) =>
          r.count ? <div key={r.status} style={{ width: `${(r.count / Math.max(total, 1)) * 100}%`, background: STATUS_COLORS[r.status] }} title={`${r.status}: ${r.count}`} /> : null,
        )}
      </div>
      <table className="w-full text-sm" data-testid="status-breakdown">
        <tbody>
          {rows.map((r) => (
            <tr key={r.status} className="border-b border-slate-100 last:border-0">
              <td className="py-1">
                <Link to={logs({ status: r.status })} className="inline-flex items-center gap-2 text-slate-800 hover:underline">
                  <span className="h-2.5 w-2.5 rounded-full" style={{ background: STATUS_COLORS[r.status] }} aria-hidden="true" />
                  {r.status}
                </Link>
              </td>
              <td className="py-1 text-right tabular-nums" data-testid={`status-${r.status}`}>
                {formatCount(r.count)}
              </td>
              <td className="py-1 pl-2 text-right tabular-nums text-slate-600">{total ? formatPercent((r.count / total) * 100) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ErrorsTable({ rows, logs, client }: { rows: ErrorRow[]; logs: (extra?: LogFilterParams) => string; client: ClientValue }) {
  if (!rows.length) return <EmptyState title="No errors in this period." />;
  return (
    <table className="w-full table-fixed text-left text-sm" data-testid="errors-table">
      <thead className="text-xs uppercase text-slate-600">
        <tr>
          <th className="w-[32%] py-1 pr-3 font-medium">Error type</th>
          <th className="hidden w-[20%] py-1 pr-3 font-medium sm:table-cell">Node</th>
          <th className="w-[4.5rem] py-1 pr-3 text-right font-medium">Count</th>
          <th className="py-1 font-medium">Latest</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row, index) => {
          const filters: LogFilterParams = row.workflow_error_type ? { workflow_error_type: row.workflow_error_type } : { status: "FAILED,ERROR" };
          if (row.workflow_error_node) filters.workflow_error_node = row.workflow_error_node;
          return (
            <tr key={index} className="border-t border-slate-100 align-top">
              <td className="py-1.5 pr-3">
                <Link to={logs(filters)} className="block truncate font-medium text-indigo-800 hover:underline" title={row.workflow_error_type ?? ""}>
                  {row.workflow_error_type ?? "(no type)"}
                </Link>
              </td>
              <td className="hidden py-1.5 pr-3 text-slate-800 sm:table-cell">
                <Truncate text={row.workflow_error_node} maxWidth="max-w-full" />
              </td>
              <td className="py-1.5 pr-3 text-right tabular-nums">{formatCount(row.count)}</td>
              <td className="py-1.5 text-slate-700">
                {row.latest_log_id ? (
                  <Link to={client.path(`/logs/${row.latest_log_id}`)} className="block truncate hover:underline" title={row.latest_message ?? ""}>
                    {row.latest_message ?? formatDateTime(row.latest_executed_at)}
                  </Link>
                ) : (
                  "—"
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
