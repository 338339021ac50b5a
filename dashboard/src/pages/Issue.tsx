// One error issue: what it is (type, node, normalised message), when it was first and last
// seen and in which version it appeared, its trend over the period, the versions it occurs in,
// and its newest failing runs, with a link to all of them.
import { Link, useParams, useSearchParams } from "react-router-dom";
import { ApiError, api, unwrap } from "../api/client";
import type { IssueDetail } from "../api/types";
import { useClient } from "../client";
import { RangeBar } from "../components/RangeBar";
import { Card, EmptyState, ErrorState, Spinner, StatusBadge, useTitle } from "../components/ui";
import { logsQuery, periodParams } from "../lib/drill";
import { formatAgo, formatBucket, formatCount, formatDateTime, plural } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useLiveUpdates } from "../lib/live";
import { rangeKey, rangeParams, readRange, writeRange } from "../lib/range";
import { issueTitle } from "./Issues";

export function IssuePage() {
  const { fingerprint = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const range = readRange(search);
  const client = useClient();
  const { params, interval } = rangeParams(range);
  const key = `${client.slug}|${fingerprint}|${rangeKey(range)}`;
  const live = useLiveUpdates(key, () => issue.reload());
  const issue = useLoader(key, () => api.GET("/api/v1/metrics/issues/{fingerprint}", { params: { path: { fingerprint }, query: { ...params, interval } } }).then(unwrap));
  useTitle(issue.data ? issueTitle(issue.data) : "Error issue", client.name);

  return (
    <div className="space-y-5">
      <Link to={client.path(`/issues?${writeRange(new URLSearchParams(), range)}`)} className="text-sm text-indigo-800 underline">
        ← All issues
      </Link>
      <RangeBar range={range} onChange={(next) => setSearch(writeRange(search, next))} live={live} />
      {issue.error instanceof ApiError && issue.error.status === 404 ? (
        <EmptyState title="No such issue.">No failing run of this client has this fingerprint.</EmptyState>
      ) : issue.error && !issue.data ? (
        <ErrorState error={issue.error} onRetry={issue.reload} />
      ) : null}
      {!issue.data && issue.loading ? <Spinner label="Loading the issue…" /> : null}
      {issue.data ? <IssueBody issue={issue.data} environment={range.environment} interval={interval} /> : null}
    </div>
  );
}

function IssueBody({ issue, environment, interval }: { issue: IssueDetail; environment: string; interval: "hour" | "day" }) {
  const client = useClient();
  const runs = client.path(`/logs${logsQuery({ ...periodParams(issue.period_start, issue.period_end, environment), error_issue: issue.fingerprint })}`);
  const facts: [string, React.ReactNode][] = [
    ["Runs in this period", <span data-testid="issue-count">{formatCount(issue.count)}</span>],
    ["First seen", <span title={formatDateTime(issue.first_seen)}>{formatAgo(issue.first_seen)}{issue.first_version ? ` in ${issue.first_version}` : ""}</span>],
    ["Last seen", <span title={formatDateTime(issue.last_seen)}>{formatAgo(issue.last_seen)}</span>],
    ["New in", issue.new_in_version ?? "— (seen since its first version)"],
  ];
  return (
    <>
      <Card>
        <h1 className="text-xl font-bold text-slate-900 [overflow-wrap:anywhere]" data-testid="issue-title">
          {issueTitle(issue)}
          {issue.new_in_version ? (
            <span className="ml-2 rounded bg-amber-100 px-1.5 py-0.5 align-middle text-xs font-semibold text-amber-950 ring-1 ring-inset ring-amber-300">
              new in {issue.new_in_version}
            </span>
          ) : null}
        </h1>
        <p className="mt-1 rounded bg-slate-50 px-2 py-1 font-mono text-sm text-slate-800 [overflow-wrap:anywhere]" title="The message with numbers, ids and quoted values masked">
          {issue.pattern || "(no message)"}
        </p>
        <dl className="mt-4 grid grid-cols-2 gap-3 text-sm md:grid-cols-4">
          {facts.map(([label, value]) => (
            <div key={label} className="min-w-0">
              <dt className="text-slate-600">{label}</dt>
              <dd className="font-medium text-slate-900">{value}</dd>
            </div>
          ))}
        </dl>
        <Link to={runs} className="mt-4 inline-block rounded bg-indigo-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-800">
          All {plural(issue.count, "run")} of this period →
        </Link>
      </Card>
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title={`Runs per ${interval}`} className="lg:col-span-2">
          <TrendBars buckets={issue.buckets} values={issue.trend} interval={interval} />
        </Card>
        <Card title="Versions">
          {issue.versions.length ? (
            <table className="w-full text-sm" data-testid="issue-versions">
              <tbody>
                {issue.versions.map((v) => (
                  <tr key={v.workflow_version ?? "none"} className="border-t border-slate-100 first:border-0">
                    <td className="py-1">
                      <Link className="text-indigo-800 underline" to={client.path(`/logs${logsQuery({ ...periodParams(issue.period_start, issue.period_end, environment), error_issue: issue.fingerprint, workflow_version: v.workflow_version ?? undefined })}`)}>
                        {v.workflow_version ?? "no version"}
                      </Link>
                    </td>
                    <td className="py-1 text-right tabular-nums">{formatCount(v.count)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="text-sm text-slate-600">No run in this period.</p>
          )}
        </Card>
      </div>
      <Card title="Newest runs of this period">
        {issue.examples.length ? (
          <ul className="divide-y divide-slate-100 text-sm" data-testid="issue-examples">
            {issue.examples.map((e) => (
              <li key={e.log_id} className="flex flex-wrap items-start gap-x-3 gap-y-1 py-2">
                <StatusBadge status={e.status} />
                <Link to={client.path(`/logs/${e.log_id}`)} className="font-medium text-indigo-800 hover:underline">
                  {formatDateTime(e.executed_at)}
                </Link>
                <span className="max-w-[14rem] truncate text-slate-700" title={e.ticket_id ?? ""}>
                  Ticket {e.ticket_id ?? "—"}
                </span>
                <span className="text-slate-700">{e.workflow_version ?? "—"}</span>
                <span className="w-full text-slate-900 [overflow-wrap:anywhere]">{e.message ?? "(no message)"}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-slate-600">No run of this issue in this period{issue.latest ? `; the latest was ${formatDateTime(issue.latest.executed_at)}` : ""}.</p>
        )}
      </Card>
    </>
  );
}

/** The trend as labelled bars (plain SVG: no chart library for one series). */
function TrendBars({ buckets, values, interval }: { buckets: string[]; values: number[]; interval: "hour" | "day" }) {
  const max = Math.max(1, ...values);
  const step = Math.max(1, Math.ceil(buckets.length / 8));
  return (
    <figure data-testid="issue-trend">
      <div className="flex h-40 items-end gap-px border-b border-slate-300" role="img" aria-label={`Runs per ${interval}: ${values.join(", ")}`}>
        {values.map((value, index) => (
          <div key={buckets[index]} className="flex-1 bg-red-600" style={{ height: `${(value / max) * 100}%`, minHeight: value ? 2 : 0 }} title={`${formatBucket(buckets[index], interval)}: ${value}`} />
        ))}
      </div>
      <figcaption className="mt-1 flex justify-between text-xs text-slate-700">
        {buckets.filter((_, i) => i % step === 0).map((bucket) => (
          <span key={bucket}>{formatBucket(bucket, interval)}</span>
        ))}
      </figcaption>
    </figure>
  );
}
