import { Link, useSearchParams } from "react-router-dom";
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis, Legend } from "recharts";
import { api, unwrap } from "../api/client";
import { useClient } from "../client";
import { RangeBar } from "../components/RangeBar";
import { SaveViewButton } from "../components/SavedViews";
import { Card, EmptyState, ErrorState, Spinner, useTitle } from "../components/ui";
import { logsQuery, periodParams } from "../lib/drill";
import { formatBucket, formatCount, formatPercent, formatSeconds } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { rangeKey as keyOf, rangeParams, readRange, writeRange, type RangeState } from "../lib/range";
import { chartRows } from "../lib/charts";

const NONE = "(none)";

/** Axis labels stay short; the whole category is in the tooltip and the table. */
function shortLabel(value: string): string {
  return value.length > 18 ? `${value.slice(0, 17)}…` : value;
}

export function CategoriesPage() {
  const [search, setSearch] = useSearchParams();
  const range = readRange(search);
  const client = useClient();
  useTitle("Categories", client.name);
  const rangeKey = `${client.slug}|${keyOf(range)}`;
  const live = useLiveUpdates(rangeKey, () => list.reload());
  const list = useLoader(rangeKey, () => api.GET("/api/v1/metrics/categories", { params: { query: rangeParams(range).params } }).then(unwrap));

  const rows = list.data?.data ?? [];
  const selected = search.get("category") ?? rows.find((r) => r.category !== null)?.category ?? "";
  const select = (category: string) => {
    const next = new URLSearchParams(search);
    next.set("category", category);
    setSearch(next, { replace: true });
  };
  // The logs of a category for the same period as the figures shown.
  const logsOf = (category: string) =>
    client.path(`/logs${logsQuery({ category, ...(list.data ? periodParams(list.data.period_start, list.data.period_end, range.environment) : {}) })}`);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Categories</h1>
        <SaveViewButton page="categories" />
      </div>
      <RangeBar range={range} onChange={(next) => setSearch(writeRange(search, next))} live={live} />
      {list.error && !list.data ? <ErrorState error={list.error} onRetry={list.reload} /> : null}
      {list.loading && !list.data ? <Spinner label="Loading categories…" /> : null}
      {list.data && rows.length === 0 ? <EmptyState title="No tickets in this period." /> : null}
      {rows.length ? (
        <>
          <div className="grid gap-4 lg:grid-cols-2">
            <Card title="Tickets per category" className="min-w-0">
              <div className="h-72">
                <ResponsiveContainer width="100%" height="100%">
                  <BarChart data={rows.map((r) => ({ ...r, category: r.category ?? NONE }))} layout="vertical" margin={{ left: 0, right: 10 }}>
                    <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                    <XAxis type="number" allowDecimals={false} tick={{ fontSize: 12, fill: "#334155" }} />
                    <YAxis type="category" dataKey="category" width={120} tick={{ fontSize: 12, fill: "#334155" }} tickFormatter={shortLabel} />
                    <Tooltip formatter={(v) => formatCount(Number(v))} />
                    <Bar dataKey="count" name="Tickets" fill="#6366f1" isAnimationActive={false} onClick={(d) => {
                        const category = (d.payload as { category?: string } | undefined)?.category;
                        if (category && category !== NONE) select(category);
                      }} cursor="pointer" />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </Card>
            <Card title={<span className="block truncate">{selected ? `Trend: ${selected}` : "Trend"}</span>} className="min-w-0">
              {selected ? <Trend category={selected} rangeKey={rangeKey} range={range} /> : <p className="text-sm text-slate-600">Pick a category.</p>}
            </Card>
          </div>
          <Card title="How each category performs">
            <table className="w-full table-fixed text-left text-sm" data-testid="categories-table">
              <thead className="text-xs uppercase text-slate-600">
                <tr>
                  <th className="py-1 pr-3 font-medium">Category</th>
                  <th className="w-[4.5rem] py-1 pr-2 text-right font-medium sm:w-24">Tickets</th>
                  <th className="w-[4.5rem] py-1 pr-2 text-right font-medium sm:w-28">
                    <span className="sm:hidden">Success</span>
                    <span className="hidden sm:inline">Success rate</span>
                  </th>
                  <th className="hidden w-20 py-1 pr-3 text-right font-medium sm:table-cell">Errors</th>
                  <th className="hidden w-24 py-1 pr-3 text-right font-medium md:table-cell">Avg time</th>
                  <th className="w-12 py-1 font-medium">
                    <span className="sr-only">Logs</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.category ?? NONE} className={`border-t border-slate-100 ${row.category === selected ? "bg-indigo-50" : ""}`}>
                    <td className="py-1.5 pr-3">
                      {row.category ? (
                        <button type="button" className="block max-w-full truncate text-left font-medium text-indigo-800 hover:underline" onClick={() => select(row.category!)} aria-pressed={row.category === selected} title={row.category}>
                          {row.category}
                        </button>
                      ) : (
                        <span className="text-slate-600">{NONE}</span>
                      )}
                    </td>
                    <td className="py-1.5 pr-2 text-right tabular-nums">{formatCount(row.count)}</td>
                    <td className="py-1.5 pr-2 text-right tabular-nums">{formatPercent(row.success_rate)}</td>
                    <td className="hidden py-1.5 pr-3 text-right tabular-nums sm:table-cell">{formatCount(row.error_count)}</td>
                    <td className="hidden py-1.5 pr-3 text-right tabular-nums md:table-cell">{formatSeconds(row.avg_execution_time)}</td>
                    <td className="py-1.5">
                      {row.category ? (
                        <Link className="text-indigo-800 underline" to={logsOf(row.category)} aria-label={`Logs of ${row.category}`}>
                          Logs
                        </Link>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
        </>
      ) : null}
    </div>
  );
}

function Trend({ category, rangeKey: key, range }: { category: string; rangeKey: string; range: RangeState }) {
  const { params, interval } = rangeParams(range);
  const series = useLoader(`${key}|${category}`, () =>
    api.GET("/api/v1/metrics/timeseries", { params: { query: { ...params, interval, category: [category] } } }).then(unwrap),
  );
  if (series.error) return <ErrorState error={series.error} onRetry={series.reload} />;
  if (!series.data) return <Spinner />;
  return (
    <div className="h-72" data-testid="category-trend">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={chartRows(series.data.data)} margin={{ top: 5, right: 0, left: -8, bottom: 5 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="bucket" tickFormatter={(v: string) => formatBucket(v, interval)} tick={{ fontSize: 12, fill: "#334155" }} minTickGap={24} />
          <YAxis yAxisId="count" allowDecimals={false} tick={{ fontSize: 12, fill: "#334155" }} width={40} />
          <YAxis yAxisId="rate" orientation="right" domain={[0, 100]} unit="%" tick={{ fontSize: 12, fill: "#334155" }} width={44} />
          <Tooltip labelFormatter={(v) => formatBucket(String(v), interval)} />
          <Legend formatter={(value) => <span style={{ color: "#1e293b" }}>{value}</span>} />
          <Line yAxisId="count" dataKey="count" name="Tickets" stroke="#6366f1" strokeWidth={2} dot={false} isAnimationActive={false} />
          <Line yAxisId="rate" dataKey="success_rate" name="Success rate" stroke="#059669" strokeWidth={2} dot={false} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
