import { Link, useLocation, useParams } from "react-router-dom";
import { ApiError, api, unwrap } from "../api/client";
import type { LogDetail } from "../api/types";
import { KeyValues, TraceViewer } from "../components/TraceViewer";
import { TraceWaterfall } from "../components/TraceWaterfall";
import { Boundary, Card, CopyButton, EmptyState, ErrorState, JsonBlock, Spinner, StatusBadge } from "../components/ui";
import { formatDateTime, formatSeconds, formatValue, humanize } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { isRecord } from "../lib/trace";
import { useSession } from "../session";
import { Redactable, ScrubbedNote } from "../components/Redacted";

export function LogDetailPage() {
  const { id = "" } = useParams();
  const { clientKey } = useSession();
  const location = useLocation();
  const back = (location.state as { back?: string } | null)?.back ?? "/logs";
  const { data, error, loading, reload } = useLoader(`${clientKey}|${id}`, () => api.GET("/api/v1/logs/{id}", { params: { path: { id } } }).then(unwrap));

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
          <Detail log={data} />
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

function Detail({ log }: { log: LogDetail }) {
  const failed = log.status === "FAILED" || log.status === "ERROR";
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
  const metrics = isRecord(log.metrics) ? log.metrics : {};
  return (
    <>
      <Card>
        <div className="flex flex-wrap items-center gap-3">
          <h1 className="text-2xl font-bold text-slate-900" data-testid="detail-ticket">
            Ticket {log.ticket_id ?? "—"}
          </h1>
          <StatusBadge status={log.status} />
          <span className="ml-auto flex items-center gap-2 text-xs text-slate-600">
            <code className="break-all">{log.id}</code>
            <CopyButton text={log.id} label="Copy id" />
          </span>
        </div>
        <dl className="mt-4 grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
          {header.map(([label, value]) => (
            <div key={label}>
              <dt className="text-slate-600">{label}</dt>
              <dd className="font-medium text-slate-900">{value}</dd>
            </div>
          ))}
        </dl>
        <ScrubbedNote scrubbed={log.scrubbed} />
      </Card>

      {log.workflow_error || log.workflow_error_type || failed ? (
        <section role="alert" className="rounded-lg border-2 border-red-300 bg-red-50 p-4" data-testid="detail-error">
          <h2 className="font-semibold text-red-900">
            {log.workflow_error_type ?? (failed ? `Run ${log.status.toLowerCase()}` : "Error")}
            {log.workflow_error_node ? <span className="font-normal"> in node <code className="rounded bg-white px-1">{log.workflow_error_node}</code></span> : null}
            {log.is_system_error ? <span className="ml-2 rounded bg-red-700 px-1.5 py-0.5 text-xs text-white">system error</span> : null}
          </h2>
          {log.workflow_error ? <p className="mt-1 whitespace-pre-wrap break-words text-sm text-red-900"><Redactable text={log.workflow_error} /></p> : null}
        </section>
      ) : null}

      <Card title="Metrics">
        {Object.keys(metrics).length ? (
          <table className="w-full text-sm" data-testid="metrics-table">
            <tbody>
              {Object.entries(metrics).map(([key, value]) => (
                <tr key={key} className="border-t border-slate-100 first:border-0">
                  <th scope="row" className="w-1/2 py-1 pr-3 text-left font-medium text-slate-600">
                    {humanize(key)}
                  </th>
                  <td className="py-1 tabular-nums text-slate-900">{formatValue(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="text-sm text-slate-600">No metrics.</p>
        )}
      </Card>

      {isOtelRun(log) ? <TraceWaterfall logId={log.id} /> : <TraceViewer payload={log.payload} />}

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
