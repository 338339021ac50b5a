// Latency and cost: p50 / p95 execution time over the period (the rollup: fast at any size),
// and, when the logs carry them in `metrics`, tokens and cost per day, category or version (the
// usage rollup; a scan when a filter narrows the logs). Drill-down: a bucket of the latency
// chart opens its logs slowest first; a day, category or version of the usage table opens its
// logs for the same period.
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap } from "../api/client";
import type { UsageResponse } from "../api/types";
import { useClient } from "../client";
import { RangeBar } from "../components/RangeBar";
import { SaveViewButton } from "../components/SavedViews";
import { Card, EmptyState, ErrorState, Spinner, Truncate, useTitle } from "../components/ui";
import { bucketParams, logsQuery, periodParams, type LogFilterParams } from "../lib/drill";
import { formatBucket, formatCount, formatSeconds, humanize } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { rangeKey, rangeParams, readRange, writeRange } from "../lib/range";

const GROUPS = [
  { value: "day", label: "Day" },
  { value: "category", label: "Category" },
  { value: "workflow_version", label: "Version" },
] as const;
type Group = (typeof GROUPS)[number]["value"] | "hour";

function formatUsage(key: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (/cost/i.test(key)) return `$${value < 10 ? value.toFixed(4) : formatCount(Math.round(value * 100) / 100)}`;
  return formatCount(Math.round(value));
}

export function LatencyPage() {
  const [search, setSearch] = useSearchParams();
  const range = readRange(search);
  const client = useClient();
  const navigate = useNavigate();
  useTitle("Latency & cost", client.name);
  const { params, interval } = rangeParams(range);
  const chosen = (GROUPS.find((g) => g.value === search.get("group"))?.value ?? "day") as Group;
  const group: Group = chosen === "day" && interval === "hour" ? "hour" : chosen;
  const key = `${client.slug}|${rangeKey(range)}`;
  const live = useLiveUpdates(key, () => {
    series.reload();
    usage.reload();
  });
  const series = useLoader(key, () => api.GET("/api/v1/metrics/timeseries", { params: { query: { ...params, interval } } }).then(unwrap));
  const usage = useLoader(`${key}|${group}`, () => api.GET("/api/v1/metrics/usage", { params: { query: { ...params, group } } }).then(unwrap));

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Latency &amp; cost</h1>
        <SaveViewButton page="latency" />
      </div>
      <RangeBar range={range} onChange={(next) => setSearch(writeRange(search, next))} live={live} />
      <Card title="Execution time: median (p50) and p95">
        {series.error && !series.data ? <ErrorState error={series.error} onRetry={series.reload} /> : null}
        {!series.data && !series.error ? <Spinner label="Loading latency…" /> : null}
        {series.data ? (
          <div className="h-72" data-testid="latency-chart">
            <ResponsiveContainer width="100%" height="100%">
              <LineChart
                data={series.data.data.map((row) => ({ ...row, p50: row.count ? row.p50_execution_time : null, p95: row.count ? row.p95_execution_time : null }))}
                margin={{ top: 5, right: 8, left: -8, bottom: 5 }}
                onClick={(state) => {
                  const label = (state as { activeLabel?: string | number } | null)?.activeLabel;
                  if (label !== undefined) navigate(client.path(`/logs${logsQuery({ ...bucketParams(String(label), interval, range.environment), ordering: "-execution_time_seconds" })}`));
                }}
                style={{ cursor: "pointer" }}
              >
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="bucket" tickFormatter={(v: string) => formatBucket(v, interval)} tick={{ fontSize: 12, fill: "#334155" }} minTickGap={24} />
                <YAxis tickFormatter={(v: number) => formatSeconds(v)} tick={{ fontSize: 12, fill: "#334155" }} width={56} />
                <Tooltip labelFormatter={(v) => formatBucket(String(v), interval)} formatter={(v) => formatSeconds(Number(v))} />
                <Legend formatter={(value) => <span style={{ color: "#1e293b" }}>{value}</span>} />
                <Line dataKey="p50" name="p50" stroke="#4f46e5" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls={false} />
                <Line dataKey="p95" name="p95" stroke="#b91c1c" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls={false} />
              </LineChart>
            </ResponsiveContainer>
          </div>
        ) : null}
      </Card>
      <Card
        title="Tokens and cost"
        actions={
          <label className="text-sm text-slate-700">
            Per
            <select aria-label="Tokens and cost per" value={chosen} onChange={(e) => {
              const next = new URLSearchParams(search);
              if (e.target.value === "day") next.delete("group");
              else next.set("group", e.target.value);
              setSearch(next, { replace: true });
            }} className="ml-2 rounded border border-slate-300 bg-white px-2 py-1">
              {GROUPS.map((g) => (
                <option key={g.value} value={g.value}>
                  {g.label}
                </option>
              ))}
            </select>
          </label>
        }
      >
        {usage.error && !usage.data ? <ErrorState error={usage.error} onRetry={usage.reload} /> : null}
        {!usage.data && !usage.error ? <Spinner label="Adding up tokens and cost…" /> : null}
        {usage.data ? <Usage data={usage.data} interval={interval} environment={range.environment} /> : null}
      </Card>
    </div>
  );
}

/** The logs behind one row of the usage table (none for the runs without a category or version:
 * the log list has no filter for a missing value). */
function rowLogs(data: UsageResponse, group: string | null, environment?: string): LogFilterParams | null {
  if (group === null) return null;
  if (data.group === "day" || data.group === "hour") return bucketParams(group, data.group, environment);
  const period = periodParams(data.period_start, data.period_end, environment);
  return data.group === "category" ? { ...period, category: group } : { ...period, workflow_version: group };
}

function Usage({ data, interval, environment }: { data: UsageResponse; interval: "hour" | "day"; environment?: string }) {
  const client = useClient();
  // Asked with `group`, the answer has the breakdown.
  const keys = data.keys ?? [];
  const rows = data.data ?? [];
  const totals = data.totals ?? {};
  if (!keys.length) return <EmptyState title="These runs carry no tokens or cost.">Send numeric metrics such as <code>total_tokens</code> or <code>cost_usd</code> and they appear here.</EmptyState>;
  const costKey = keys.find((k) => /cost/i.test(k));
  const tokenKey = keys.find((k) => /total_tokens/i.test(k)) ?? keys.find((k) => /token/i.test(k));
  const byTime = data.group === "day" || data.group === "hour";
  const label = (group: string | null) => (group === null ? "(none)" : byTime ? formatBucket(group, interval) : group);
  const chartKey = costKey ?? tokenKey ?? keys[0];
  return (
    <div className="space-y-4">
      <dl className="grid grid-cols-2 gap-3 text-sm md:grid-cols-4" data-testid="usage-totals">
        {keys.map((key) => (
          <div key={key} className="min-w-0 rounded border border-slate-200 p-2">
            <dt className="truncate text-slate-600" title={key}>
              {humanize(key)}
            </dt>
            <dd className="text-lg font-semibold tabular-nums text-slate-900">{formatUsage(key, totals[key])}</dd>
          </div>
        ))}
      </dl>
      <div className="h-64">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={rows.map((row) => ({ label: label(row.group), value: row.usage[chartKey]?.sum ?? 0 }))} margin={{ top: 5, right: 8, left: 0, bottom: 5 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
            <XAxis dataKey="label" tick={{ fontSize: 12, fill: "#334155" }} minTickGap={16} tickFormatter={(v: string) => (v.length > 14 ? `${v.slice(0, 13)}…` : v)} />
            <YAxis tick={{ fontSize: 12, fill: "#334155" }} width={60} tickFormatter={(v: number) => formatUsage(chartKey, v)} />
            <Tooltip formatter={(v) => formatUsage(chartKey, Number(v))} />
            <Legend formatter={() => <span style={{ color: "#1e293b" }}>{humanize(chartKey)}</span>} />
            <Bar dataKey="value" fill="#4f46e5" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <table className="w-full table-fixed text-left text-sm" data-testid="usage-table">
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            <th className="py-1 pr-2 font-medium">{byTime ? (interval === "hour" ? "Hour" : "Day") : data.group === "category" ? "Category" : "Version"}</th>
            <th className="w-16 py-1 pr-2 text-right font-medium">Runs</th>
            {keys.map((key, index) => (
              <th key={key} className={`py-1 pr-2 text-right font-medium ${index > 1 ? "hidden md:table-cell" : ""}`}>
                <Truncate text={humanize(key)} maxWidth="max-w-full" />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.group ?? "none"} className="border-t border-slate-100">
              <td className="py-1 pr-2">
                {rowLogs(data, row.group, environment) ? (
                  <Link to={client.path(`/logs${logsQuery(rowLogs(data, row.group, environment)!)}`)} className="block truncate text-indigo-800 hover:underline" title={`The logs of ${label(row.group)}`} data-testid="usage-row-logs">
                    {label(row.group)}
                  </Link>
                ) : (
                  <Truncate text={label(row.group)} maxWidth="max-w-full" />
                )}
              </td>
              <td className="py-1 pr-2 text-right tabular-nums">{formatCount(row.runs)}</td>
              {keys.map((key, index) => (
                <td key={key} className={`py-1 pr-2 text-right tabular-nums ${index > 1 ? "hidden md:table-cell" : ""}`} title={`mean ${formatUsage(key, row.usage[key]?.mean)} over ${formatCount(row.usage[key]?.runs_with ?? 0)} runs`}>
                  {formatUsage(key, row.usage[key]?.sum)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
