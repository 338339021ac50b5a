// Workflow versions: each version's volume, success and error rates and timings in the period,
// then two versions side by side with their differences and whether each is beyond noise
// (two-proportion z-test for rates, Welch's t-test for means; both two-sided, α = 0.05).
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import type { VersionCompare, VersionComparison, VersionRow } from "../api/types";
import { useClient } from "../client";
import { RangeBar } from "../components/RangeBar";
import { SaveViewButton } from "../components/SavedViews";
import { Card, EmptyState, ErrorState, Spinner, Truncate, useTitle } from "../components/ui";
import { logsQuery, periodParams } from "../lib/drill";
import { formatAgo, formatCount, formatDateTime, formatPercent, formatSeconds } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { rangeKey, rangeParams, readRange, writeRange } from "../lib/range";

export function VersionsPage() {
  const [search, setSearch] = useSearchParams();
  const range = readRange(search);
  const client = useClient();
  useTitle("Versions", client.name);
  const key = `${client.slug}|${rangeKey(range)}`;
  const live = useLiveUpdates(key, () => versions.reload());
  const versions = useLoader(key, () => api.GET("/api/v1/metrics/versions", { params: { query: rangeParams(range).params } }).then(unwrap));
  const rows = versions.data?.data ?? [];
  const named = rows.filter((r) => r.workflow_version);
  // Default comparison: the newest version (B) against the one before it (A).
  const b = search.get("b") ?? named[0]?.workflow_version ?? "";
  const a = search.get("a") ?? named.find((r) => r.workflow_version !== b)?.workflow_version ?? "";
  const choose = (name: "a" | "b", value: string) => {
    const next = new URLSearchParams(search);
    next.set(name, value);
    if (!next.get(name === "a" ? "b" : "a")) next.set(name === "a" ? "b" : "a", name === "a" ? b : a);
    setSearch(next, { replace: true });
  };

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold text-slate-900">Versions</h1>
        <SaveViewButton page="versions" />
      </div>
      <RangeBar range={range} onChange={(next) => setSearch(writeRange(search, next))} live={live} />
      {versions.error && !versions.data ? <ErrorState error={versions.error} onRetry={versions.reload} /> : null}
      {!versions.data && versions.loading ? <Spinner label="Loading versions…" /> : null}
      {versions.data && !rows.length ? <EmptyState title="No runs in this period." /> : null}
      {versions.data && rows.length ? (
        <>
          <VersionTable rows={rows} period={periodParams(versions.data.period_start, versions.data.period_end, range.environment)} rangeSearch={writeRange(new URLSearchParams(), range).toString()} />
          {named.length >= 2 ? (
            <Card title="Compare two versions">
              <div className="mb-3 flex flex-wrap items-end gap-3 text-sm">
                {(["a", "b"] as const).map((name) => (
                  <label key={name} className="text-slate-700">
                    {name === "a" ? "Baseline (A)" : "Compared (B)"}
                    <select aria-label={name === "a" ? "Baseline version" : "Compared version"} value={name === "a" ? a : b} onChange={(e) => choose(name, e.target.value)} className="ml-2 max-w-[12rem] rounded border border-slate-300 bg-white px-2 py-1">
                      {named.map((r) => (
                        <option key={r.workflow_version} value={r.workflow_version ?? ""}>
                          {r.workflow_version}
                        </option>
                      ))}
                    </select>
                  </label>
                ))}
              </div>
              {a && b && a !== b ? <Comparison a={a} b={b} rangeKey={key} params={rangeParams(range).params} /> : <p className="text-sm text-slate-700">Pick two different versions.</p>}
            </Card>
          ) : (
            <p className="text-sm text-slate-700">One version in this period: nothing to compare it with. Pick a longer range.</p>
          )}
        </>
      ) : null}
    </div>
  );
}

function VersionTable({ rows, period, rangeSearch }: { rows: VersionRow[]; period: ReturnType<typeof periodParams>; rangeSearch: string }) {
  const client = useClient();
  return (
    <div className="rounded-lg border border-slate-200 bg-white shadow-sm">
      <table className="w-full table-fixed text-left text-sm" data-testid="versions-table">
        <thead className="bg-slate-50 text-xs uppercase text-slate-600">
          <tr>
            <th className="px-3 py-2 font-medium">Version</th>
            <th className="w-[4.5rem] px-2 py-2 text-right font-medium sm:w-20">Runs</th>
            <th className="w-[4.5rem] px-2 py-2 text-right font-medium sm:w-24">Success</th>
            <th className="hidden w-20 px-2 py-2 text-right font-medium sm:table-cell">Errors</th>
            <th className="hidden w-20 px-2 py-2 text-right font-medium md:table-cell">p50</th>
            <th className="hidden w-20 px-2 py-2 text-right font-medium md:table-cell">p95</th>
            <th className="hidden w-24 px-2 py-2 text-right font-medium lg:table-cell">Average</th>
            <th className="hidden w-28 px-2 py-2 font-medium lg:table-cell">Last seen</th>
            <th className="hidden w-32 px-2 py-2 font-medium md:table-cell">
              <span className="sr-only">Links</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.workflow_version ?? "none"} className="border-t border-slate-100" data-testid="version-row">
              <td className="px-3 py-2">
                {row.workflow_version !== null ? (
                  <Link to={client.path(`/logs${logsQuery({ ...period, workflow_version: row.workflow_version })}`)} className="font-semibold text-indigo-800 hover:underline">
                    <Truncate text={row.workflow_version} maxWidth="max-w-full" />
                  </Link>
                ) : (
                  // No link: the log list has no filter for a missing version (a link without one
                  // opened every version's logs).
                  <span className="font-semibold text-slate-800">(no version)</span>
                )}
                <span className="block text-xs text-slate-600" title={`${formatDateTime(row.first_seen)} → ${formatDateTime(row.last_seen)}`}>
                  since {formatAgo(row.first_seen)}
                </span>
              </td>
              <td className="px-2 py-2 text-right tabular-nums">{formatCount(row.count)}</td>
              <td className="px-2 py-2 text-right tabular-nums">{formatPercent(row.success_rate)}</td>
              <td className="hidden px-2 py-2 text-right tabular-nums sm:table-cell">{formatPercent(row.error_rate)}</td>
              <td className="hidden px-2 py-2 text-right tabular-nums md:table-cell">{formatSeconds(row.p50_execution_time)}</td>
              <td className="hidden px-2 py-2 text-right tabular-nums md:table-cell">{formatSeconds(row.p95_execution_time)}</td>
              <td className="hidden px-2 py-2 text-right tabular-nums lg:table-cell">{formatSeconds(row.avg_execution_time)}</td>
              <td className="hidden px-2 py-2 text-slate-800 lg:table-cell" title={formatDateTime(row.last_seen)}>
                {formatAgo(row.last_seen)}
              </td>
              <td className="hidden px-2 py-2 md:table-cell">
                {row.workflow_version ? (
                  <Link to={client.path(`/issues?${rangeSearch}&new_in=${encodeURIComponent(row.workflow_version)}`)} className="text-xs text-indigo-800 underline">
                    Issues new in it
                  </Link>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function formatFigure(row: VersionComparison, value: number | null): string {
  if (value === null || value === undefined) return "—";
  if (row.kind === "rate") return formatPercent(value, 1);
  if (row.metric === "execution_time_seconds") return formatSeconds(value);
  return Math.abs(value) >= 100 ? formatCount(Math.round(value)) : String(Number(value.toFixed(3)));
}

function formatDifference(row: VersionComparison): string {
  const d = row.difference;
  if (d === null || d === undefined) return "—";
  if (d === 0) return "no change";
  const sign = d > 0 ? "+" : "−";
  if (row.kind === "rate") return `${sign}${Math.abs(d).toFixed(1)} pp`;
  if (row.metric === "execution_time_seconds") return `${sign}${formatSeconds(Math.abs(d))}`;
  return `${sign}${formatFigure({ ...row, kind: "mean", metric: "" }, Math.abs(d))}`;
}

function verdict(row: VersionComparison): { text: string; tone: string } {
  if (row.significant === null || row.significant === undefined) return { text: "too few runs to tell", tone: "text-slate-700" };
  const p = row.p_value === null || row.p_value === undefined ? "" : row.p_value < 0.001 ? " (p < 0.001)" : ` (p = ${row.p_value.toFixed(3)})`;
  if (!row.significant) return { text: `within noise${p}`, tone: "text-slate-700" };
  const tone = row.better === "b" ? "text-emerald-800" : row.better === "a" ? "text-red-800" : "text-indigo-900";
  return { text: `beyond noise${p}`, tone: `font-semibold ${tone}` };
}

function Comparison({ a, b, rangeKey: key, params }: { a: string; b: string; rangeKey: string; params: ReturnType<typeof rangeParams>["params"] }) {
  const compare = useLoader(`${key}|${a}|${b}`, () => api.GET("/api/v1/metrics/versions/compare", { params: { query: { ...params, a, b } } }).then(unwrap));
  if (compare.error) return <ErrorState error={compare.error} onRetry={compare.reload} />;
  if (!compare.data) return <Spinner label="Comparing…" />;
  return <ComparisonTable data={compare.data} />;
}

function ComparisonTable({ data }: { data: VersionCompare }) {
  return (
    <>
      <table className="w-full table-fixed text-left text-sm" data-testid="versions-compare">
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            <th className="py-1 pr-2 font-medium">Metric</th>
            <th className="w-20 py-1 pr-2 text-right font-medium sm:w-24">A · {data.a.workflow_version}</th>
            <th className="w-20 py-1 pr-2 text-right font-medium sm:w-24">B · {data.b.workflow_version}</th>
            <th className="hidden w-24 py-1 pr-2 text-right font-medium sm:table-cell">B − A</th>
            <th className="w-28 py-1 font-medium sm:w-44">Verdict</th>
          </tr>
        </thead>
        <tbody>
          {data.comparisons.map((row) => {
            const v = verdict(row);
            return (
              <tr key={row.metric} className="border-t border-slate-100" data-testid="comparison-row" data-metric={row.metric}>
                <th scope="row" className="py-1.5 pr-2 font-medium text-slate-800">
                  <Truncate text={row.label} maxWidth="max-w-full" />
                </th>
                <td className="py-1.5 pr-2 text-right tabular-nums">{formatFigure(row, row.a)}</td>
                <td className="py-1.5 pr-2 text-right tabular-nums">{formatFigure(row, row.b)}</td>
                <td className="hidden py-1.5 pr-2 text-right tabular-nums sm:table-cell">{formatDifference(row)}</td>
                <td className={`py-1.5 text-xs ${v.tone}`} title={`${row.test}; statistic ${row.statistic ?? "—"}; n = ${row.n_a} / ${row.n_b}`}>
                  {v.text}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="mt-3 text-xs text-slate-700">
        Rates (success, error, the share of each yes/no metric) are compared with a two-proportion z-test; means (execution time, each numeric metric) with
        Welch's t-test. Both are two-sided; “beyond noise” means p &lt; {data.alpha}. Rates count every run of the period; means use the newest{" "}
        {formatCount(data.sample_limit)} runs of each version (here {formatCount(data.a.sample_size)} and {formatCount(data.b.sample_size)}). With many metrics, about one in
        twenty can pass by chance.
      </p>
    </>
  );
}
