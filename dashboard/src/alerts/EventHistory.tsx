// The history of alert events (firing, resolved), newest first, filterable by rule and state,
// with how each notification went and links to the matching logs and the example runs.
import { useState } from "react";
import { Link } from "react-router-dom";
import { Card, EmptyState, ErrorState, Spinner } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { useClient } from "../client";
import { listEvents, type AlertEvent, type AlertRule } from "./api";
import { formatAlertValue, logsRoute } from "./describe";

const PAGE_SIZE = 20;

function Delivery({ event }: { event: AlertEvent }) {
  const colour = event.delivery_status === "failed" ? "text-red-800" : event.delivery_status === "delivered" ? "text-emerald-800" : "text-slate-700";
  return (
    <div className={`text-xs ${colour}`} data-testid="event-delivery">
      {event.delivery_status}
      {event.delivery_attempts ? ` · ${event.delivery_attempts} attempt${event.delivery_attempts === 1 ? "" : "s"}` : ""}
      {event.delivery_last_error ? <div className="text-slate-600" title={event.delivery_last_error}>last error: {event.delivery_last_error.slice(0, 80)}</div> : null}
    </div>
  );
}

export function EventHistory({ rules, refreshKey }: { rules: AlertRule[]; refreshKey: number }) {
  const client = useClient();
  const clientKey = client.slug;
  const [rule, setRule] = useState<number | undefined>(undefined);
  const [state, setState] = useState<"firing" | "resolved" | undefined>(undefined);
  const [page, setPage] = useState(1);
  const events = useLoader(`events:${clientKey}:${rule}:${state}:${page}:${refreshKey}`, () =>
    listEvents({ rule, state, page, page_size: PAGE_SIZE }),
  );
  const pagination = events.data?.pagination;

  return (
    <Card
      title="Event history"
      actions={
        <div className="flex flex-wrap gap-2 text-sm">
          <select aria-label="Rule" value={rule ?? ""} onChange={(e) => (setRule(e.target.value ? Number(e.target.value) : undefined), setPage(1))} className="max-w-[16rem] rounded border border-slate-300 bg-white px-2 py-1">
            <option value="">All rules</option>
            {rules.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
          <select aria-label="State" value={state ?? ""} onChange={(e) => (setState((e.target.value || undefined) as typeof state), setPage(1))} className="rounded border border-slate-300 bg-white px-2 py-1">
            <option value="">Firing and resolved</option>
            <option value="firing">Firing</option>
            <option value="resolved">Resolved</option>
          </select>
        </div>
      }
    >
      {events.error ? (
        <ErrorState error={events.error} onRetry={events.reload} />
      ) : !events.data ? (
        <Spinner />
      ) : events.data.data.length === 0 ? (
        <EmptyState title="No events.">A rule records an event each time it starts firing and when it resolves.</EmptyState>
      ) : (
        <>
          <div className="overflow-x-auto">
            <table data-testid="events-table" className="min-w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-xs uppercase text-slate-600">
                <tr>
                  <th className="py-2 pr-3">When</th>
                  <th className="py-2 pr-3">Rule</th>
                  <th className="py-2 pr-3">State</th>
                  <th className="py-2 pr-3">Value</th>
                  <th className="hidden py-2 pr-3 md:table-cell">Notification</th>
                  <th className="py-2">Logs</th>
                </tr>
              </thead>
              <tbody>
                {events.data.data.map((event) => (
                  <tr key={event.id} data-testid="event-row" className="border-b border-slate-100 align-top">
                    <td className="py-2 pr-3 text-xs text-slate-700">{formatDateTime(event.created_at)}</td>
                    <td className="py-2 pr-3 [overflow-wrap:anywhere]">{event.rule_name}</td>
                    <td className="py-2 pr-3">
                      <span className={event.state === "firing" ? "font-semibold text-red-800" : "text-emerald-800"}>{event.state}</span>
                    </td>
                    <td className="py-2 pr-3 tabular-nums">
                      {formatAlertValue(event.kind, event.value)}
                      {event.threshold !== null ? <span className="text-xs text-slate-600"> (threshold {formatAlertValue(event.kind, event.threshold)})</span> : null}
                    </td>
                    <td className="hidden py-2 pr-3 md:table-cell">
                      <Delivery event={event} />
                    </td>
                    <td className="py-2 text-xs">
                      <Link to={client.path(logsRoute(event.url))} className="text-indigo-800 underline">
                        matching logs
                      </Link>
                      {event.examples.slice(0, 3).map((id, i) => (
                        <span key={id}>
                          {" · "}
                          <Link to={client.path(`/logs/${id}`)} className="text-indigo-800 underline" data-testid="event-example">
                            example {i + 1}
                          </Link>
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pagination && pagination.pages > 1 ? (
            <div className="mt-3 flex items-center gap-3 text-sm">
              <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)} className="rounded border border-slate-300 px-2 py-1 disabled:opacity-50">
                Newer
              </button>
              <span className="text-slate-700">
                Page {pagination.page} of {pagination.pages} ({pagination.total} events)
              </span>
              <button type="button" disabled={page >= pagination.pages} onClick={() => setPage(page + 1)} className="rounded border border-slate-300 px-2 py-1 disabled:opacity-50">
                Older
              </button>
            </div>
          ) : null}
        </>
      )}
    </Card>
  );
}
