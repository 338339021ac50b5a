import { Link, useLocation, useParams, useSearchParams } from "react-router-dom";
import { ApiError, api, getJson, unwrap } from "../api/client";
import type { LogDetail, LogList } from "../api/types";
import { useClient } from "../client";
import { KeyValues, TraceViewer } from "../components/TraceViewer";
import { Boundary, Card, CopyButton, EmptyState, ErrorState, JsonBlock, Spinner, StatusBadge, useTitle } from "../components/ui";
import { formatDateTime, formatSeconds, formatValue, humanize } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { isRecord } from "../lib/trace";
import { TraceWaterfall } from "../components/TraceWaterfall";
import { Redactable, ScrubbedNote } from "../components/Redacted";

export function LogDetailPage() {
  const { id = "" } = useParams();
  const [search] = useSearchParams();
  const client = useClient();
  const location = useLocation();
  const back = (location.state as { back?: string } | null)?.back ?? client.path("/logs");
  const { data, error, loading, reload } = useLoader(`${client.slug}|${id}`, () => api.GET("/api/v1/logs/{id}", { params: { path: { id } } }).then(unwrap));
  useTitle(data ? `Ticket ${data.ticket_id ?? data.id}` : "Log", client.name);

  return (
    <div className="space-y-4">
      <Link to={back} className="text-sm text-indigo-800 underline">
        ← Back to logs
      </Link>
      {loading && !data ? <Spinner label="Loading the run…" /> : null}
      {error instanceof ApiError && error.status === 404 ? (
        <EmptyState title="No such log.">It does not exist, or it belongs to another client.</EmptyState>
      ) : error ? (
        <ErrorState error={error} onRetry={reload} />
      ) : null}
      {data ? (
        <Boundary fallback={(e) => <RawFallback log={data} error={e} />}>
          <Detail log={data} highlight={search.get("highlight") ?? undefined} step={search.get("step") ?? undefined} />
        </Boundary>
      ) : null}
    </div>
  );
}

function RawFallback({ log, error }: { log: unknown; error: Error }) {
  return (
    <Card title="This run could not be displayed">
      <p className="mb-2 text-sm text-red-800">{error.message}</p>
      <JsonBlock value={log} label="Raw JSON" defaultOpen />
    </Card>
  );
}

/** A run received over OpenTelemetry (POST /v1/traces): its trace is the span tree. */
function isOtelRun(log: LogDetail): boolean {
  const otel = isRecord(log.payload) ? log.payload.otel : undefined;
  return isRecord(otel) && typeof otel.trace_id === "string";
}

export function RunHeader({ log, title }: { log: LogDetail; title?: React.ReactNode }) {
  const header: [string, React.ReactNode][] = [
    ["Executed", formatDateTime(log.executed_at)],
    ["Duration", formatSeconds(log.execution_time_seconds)],
    ["Category", log.category ?? "—"],
    ["Resolution", log.resolution_status ?? "—"],
    ["Version", log.workflow_version ?? "—"],
    ["Environment", log.environment],
    ["Customer type", log.customer_type ?? "—"],
    ["Received", formatDateTime(log.created_at)],
  ];
  return (
    <Card>
      <div className="flex flex-wrap items-center gap-3">
        {title ?? (
          <h1 className="min-w-0 text-2xl font-bold text-slate-900 [overflow-wrap:anywhere]" data-testid="detail-ticket">
            Ticket {log.ticket_id ?? "—"}
          </h1>
        )}
        <StatusBadge status={log.status} />
        <span className="flex min-w-0 items-center gap-2 text-xs text-slate-600 sm:ml-auto">
          <code className="break-all">{log.id}</code>
          <CopyButton text={log.id} label="Copy id" />
        </span>
      </div>
      <dl className="mt-4 grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
        {header.map(([label, value]) => (
          <div key={label} className="min-w-0">
            <dt className="text-slate-600">{label}</dt>
            <dd className="font-medium text-slate-900 [overflow-wrap:anywhere]">{value}</dd>
          </div>
        ))}
      </dl>
      <ScrubbedNote scrubbed={log.scrubbed} />
    </Card>
  );
}

export function RunError({ log }: { log: LogDetail }) {
  const failed = log.status === "FAILED" || log.status === "ERROR";
  if (!log.workflow_error && !log.workflow_error_type && !failed) return null;
  return (
    <section role="alert" className="rounded-lg border-2 border-red-300 bg-red-50 p-4" data-testid="detail-error">
      <h2 className="font-semibold text-red-900 [overflow-wrap:anywhere]">
        {log.workflow_error_type ?? (failed ? `Run ${log.status.toLowerCase()}` : "Error")}
        {log.workflow_error_node ? <span className="font-normal"> in node <code className="rounded bg-white px-1">{log.workflow_error_node}</code></span> : null}
        {log.is_system_error ? <span className="ml-2 rounded bg-red-700 px-1.5 py-0.5 text-xs text-white">system error</span> : null}
      </h2>
      {log.workflow_error ? <p className="mt-1 whitespace-pre-wrap text-sm text-red-900 [overflow-wrap:anywhere]"><Redactable text={log.workflow_error} /></p> : null}
    </section>
  );
}

function Detail({ log, highlight, step }: { log: LogDetail; highlight?: string; step?: string }) {
  const metrics = isRecord(log.metrics) ? log.metrics : {};
  return (
    <>
      <RunHeader log={log} />
      <RunError log={log} />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Metrics">
          {Object.keys(metrics).length ? (
            <table className="w-full table-fixed text-sm" data-testid="metrics-table">
              <tbody>
                {Object.entries(metrics).map(([key, value]) => (
                  <tr key={key} className="border-t border-slate-100 first:border-0">
                    <th scope="row" className="w-1/2 py-1 pr-3 text-left font-medium text-slate-600 [overflow-wrap:anywhere]">
                      {humanize(key)}
                    </th>
                    <td className="py-1 tabular-nums text-slate-900 [overflow-wrap:anywhere]">{formatValue(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="text-sm text-slate-600">No metrics.</p>
          )}
        </Card>
        <OtherRuns log={log} />
      </div>

      {isOtelRun(log) ? <TraceWaterfall logId={log.id} /> : <TraceViewer payload={log.payload} highlight={highlight} step={step && /^\d+$/.test(step) ? Number(step) : undefined} />}

      {isRecord(log.metadata) && Object.keys(log.metadata).length ? (
        <Card title="Metadata">
          <KeyValues value={log.metadata} />
        </Card>
      ) : null}
      {isRecord(log.extra) && Object.keys(log.extra).length ? (
        <Card title="Other fields the client sent">
          <KeyValues value={log.extra} />
        </Card>
      ) : null}
      <Card title="Raw log">
        <JsonBlock value={log} label="Everything, as stored" />
      </Card>
    </>
  );
}

/** The other runs of the same ticket (newest first), each with a side-by-side comparison. */
function OtherRuns({ log }: { log: LogDetail }) {
  const client = useClient();
  const ticket = log.ticket_id;
  const runs = useLoader(`${client.slug}|runs|${ticket}|${log.id}`, () =>
    ticket ? getJson<LogList>("/api/v1/logs", { ticket_id: ticket, page_size: 11, cursor: "" }) : Promise.resolve(null),
  );
  const others = (runs.data?.data ?? []).filter((row) => row.id !== log.id).slice(0, 10);
  return (
    <Card title="Other runs of this ticket" actions={<Link className="text-sm text-indigo-800 underline" to={client.path(`/compare?a=${log.id}`)}>Compare with a run…</Link>}>
      {!ticket ? <p className="text-sm text-slate-600">This run has no ticket id.</p> : null}
      {runs.error ? <ErrorState error={runs.error} onRetry={runs.reload} /> : null}
      {ticket && runs.data && !others.length ? <p className="text-sm text-slate-600">No other run of this ticket.</p> : null}
      {others.length ? (
        <ul className="space-y-1 text-sm" data-testid="other-runs">
          {others.map((row) => (
            <li key={row.id} className="flex flex-wrap items-center gap-2">
              <StatusBadge status={row.status} />
              <Link to={client.path(`/logs/${row.id}`)} className="text-indigo-800 hover:underline">
                {formatDateTime(row.executed_at)}
              </Link>
              <span className="text-slate-700">{row.workflow_version ?? "—"}</span>
              <Link to={client.path(`/compare?a=${row.id}&b=${log.id}`)} className="ml-auto text-indigo-800 underline">
                Compare
              </Link>
            </li>
          ))}
        </ul>
      ) : null}
    </Card>
  );
}
