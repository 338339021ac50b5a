// The span tree of a run received over OpenTelemetry, as a waterfall: one row per span (name,
// duration bar on the trace's time axis, status, model and tokens of model calls); a click opens
// the span's attributes, events, GenAI messages and the log records attached to it. Self-contained:
// give it a log id; it loads GET /api/v1/logs/{id}/trace itself.
import { useMemo, useState } from "react";
import { api, unwrap } from "../api/client";
import { formatCount, formatValue, humanize } from "../lib/format";
import { useLoader } from "../lib/hooks";
import {
  OPERATION_LABELS,
  genAiMessages,
  traceDuration,
  treeRows,
  visibleRows,
  type LogTrace,
  type Row,
  type TraceLogRecord,
  type TraceSpan,
} from "../lib/otelTrace";
import { Card, CopyButton, ErrorState, JsonBlock, Spinner } from "./ui";

const INITIAL_ROWS = 300; // a long trace shows its first rows until asked for all
const ERROR = 2;

function formatMs(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function barColor(span: TraceSpan): string {
  if (span.status_code === ERROR) return "bg-red-500";
  if (span.operation === "llm") return "bg-indigo-500";
  if (span.operation === "tool") return "bg-emerald-500";
  if (span.operation === "agent") return "bg-amber-500";
  return "bg-slate-400";
}

export function TraceWaterfall({ logId }: { logId: string }) {
  const { data, error, loading, reload } = useLoader(`trace|${logId}`, () =>
    api.GET("/api/v1/logs/{id}/trace", { params: { path: { id: logId } } }).then(unwrap),
  );
  return (
    <Card
      title="Trace (OpenTelemetry)"
      actions={data ? <span className="text-xs text-slate-600">trace <code>{data.trace_id}</code> <CopyButton text={data.trace_id} label="Copy trace id" /></span> : null}
    >
      {loading && !data ? <Spinner label="Loading the trace…" /> : null}
      {error ? <ErrorState error={error} onRetry={reload} /> : null}
      {data ? <Waterfall trace={data} /> : null}
    </Card>
  );
}

function Waterfall({ trace }: { trace: LogTrace }) {
  const rows = useMemo(() => treeRows(trace.spans), [trace.spans]);
  const total = useMemo(() => Math.max(traceDuration(trace.spans), 0.001), [trace.spans]);
  const bySpan = useMemo(() => {
    const map = new Map<string, TraceLogRecord[]>();
    for (const record of trace.log_records) {
      const list = map.get(record.span_id ?? "") ?? [];
      list.push(record);
      map.set(record.span_id ?? "", list);
    }
    return map;
  }, [trace.log_records]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string | null>(null);
  const [all, setAll] = useState(false);
  const shown = visibleRows(rows, collapsed);
  const limited = all ? shown : shown.slice(0, INITIAL_ROWS);
  const spanIds = new Set(trace.spans.map((s) => s.span_id));
  const loose = trace.log_records.filter((r) => !r.span_id || !spanIds.has(r.span_id));

  const toggle = (id: string) =>
    setCollapsed((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  if (!trace.spans.length) return <p className="text-sm text-slate-600">No spans stored for this trace.</p>;
  return (
    <div>
      <p className="mb-2 text-xs text-slate-600">
        {formatCount(trace.spans.length)} spans over {formatMs(total)}
        {trace.log_records.length ? `, ${formatCount(trace.log_records.length)} log records` : ""}
        {trace.truncated ? " — a long trace: only its earliest spans are shown" : ""}. Click a span for its details.
      </p>
      <div role="tree" aria-label="Span tree" className="overflow-x-auto text-sm" data-testid="waterfall">
        {limited.map((row) => (
          <SpanRow key={row.span.span_id} row={row} total={total} isOpen={open === row.span.span_id}
                   collapsed={collapsed.has(row.span.span_id)} onToggle={() => toggle(row.span.span_id)}
                   onOpen={() => setOpen(open === row.span.span_id ? null : row.span.span_id)}
                   records={bySpan.get(row.span.span_id) ?? []} />
        ))}
      </div>
      {limited.length < shown.length ? (
        <button type="button" className="mt-2 rounded border border-slate-300 px-2 py-1 text-xs" onClick={() => setAll(true)}>
          Show all {formatCount(shown.length)} spans
        </button>
      ) : null}
      {loose.length ? (
        <div className="mt-4">
          <h3 className="mb-1 text-xs font-semibold uppercase text-slate-600">Log records of the trace</h3>
          <Records records={loose} />
        </div>
      ) : null}
    </div>
  );
}

function SpanRow({ row, total, isOpen, collapsed, onToggle, onOpen, records }: {
  row: Row; total: number; isOpen: boolean; collapsed: boolean; onToggle: () => void; onOpen: () => void; records: TraceLogRecord[];
}) {
  const { span, depth } = row;
  const left = (span.offset_ms / total) * 100;
  const width = Math.max((span.duration_ms / total) * 100, 0.4);
  const failed = span.status_code === ERROR;
  return (
    <div role="treeitem" aria-expanded={row.children ? !collapsed : undefined} aria-selected={isOpen} className="border-t border-slate-100 first:border-0" data-testid="span-row">
      <div className="flex min-w-[40rem] items-center gap-2 py-1">
        <div className="flex w-[45%] min-w-0 items-center gap-1" style={{ paddingLeft: `${Math.min(depth, 24) * 0.9}rem` }}>
          {row.children ? (
            <button type="button" onClick={onToggle} className="w-4 shrink-0 text-slate-600" aria-label={collapsed ? `Expand ${span.name}` : `Collapse ${span.name}`}>
              {collapsed ? "▸" : "▾"}
            </button>
          ) : <span className="w-4 shrink-0" />}
          <button type="button" onClick={onOpen} className="min-w-0 truncate text-left font-medium text-slate-900 hover:underline" title={span.name}>
            {span.name || "(unnamed)"}
          </button>
          {span.operation ? <span className="shrink-0 rounded bg-slate-100 px-1 text-[10px] uppercase text-slate-700">{OPERATION_LABELS[span.operation] ?? span.operation}</span> : null}
          {failed ? <span className="shrink-0 rounded bg-red-100 px-1 text-[10px] font-semibold uppercase text-red-800">error</span> : null}
          {records.length ? <span className="shrink-0 text-[10px] text-slate-600" title="log records">✉ {records.length}</span> : null}
        </div>
        <div className="w-[20%] min-w-0 truncate text-xs text-slate-600" data-testid="span-genai">
          {span.model ? <span className="text-slate-800">{span.model}</span> : null}
          {span.input_tokens != null || span.output_tokens != null ? (
            <span> · {formatCount(span.input_tokens ?? 0)} in / {formatCount(span.output_tokens ?? 0)} out</span>
          ) : null}
        </div>
        <div className="relative h-4 flex-1 rounded bg-slate-50" aria-hidden="true">
          <div className={`absolute top-0.5 h-3 rounded ${barColor(span)}`} style={{ left: `${Math.min(left, 99.6)}%`, width: `${Math.min(width, 100 - Math.min(left, 99.6))}%` }} />
        </div>
        <div className="w-20 shrink-0 text-right tabular-nums text-xs text-slate-700">{formatMs(span.duration_ms)}</div>
      </div>
      {isOpen ? <SpanDetail span={span} records={records} /> : null}
    </div>
  );
}

function SpanDetail({ span, records }: { span: TraceSpan; records: TraceLogRecord[] }) {
  const messages = genAiMessages(span, records);
  return (
    <div className="mb-2 ml-5 space-y-3 rounded border border-slate-200 bg-slate-50 p-3" data-testid="span-detail">
      <dl className="grid grid-cols-2 gap-2 text-xs sm:grid-cols-4">
        <div><dt className="text-slate-600">Start</dt><dd>+{formatMs(span.offset_ms)}</dd></div>
        <div><dt className="text-slate-600">Duration</dt><dd>{formatMs(span.duration_ms)}</dd></div>
        <div><dt className="text-slate-600">Status</dt><dd>{["unset", "ok", "error"][span.status_code] ?? span.status_code}{span.status_message ? `: ${span.status_message}` : ""}</dd></div>
        <div><dt className="text-slate-600">Span id</dt><dd><code>{span.span_id}</code>{span.service_name ? ` · ${span.service_name}` : ""}</dd></div>
      </dl>
      {messages.length ? (
        <section data-testid="genai-messages">
          <h4 className="mb-1 text-xs font-semibold uppercase text-slate-600">Messages</h4>
          <ol className="space-y-1">
            {messages.map((m, i) => (
              <li key={i} className="rounded border border-slate-200 bg-white p-2">
                <span className="mr-2 rounded bg-indigo-50 px-1 text-[10px] font-semibold uppercase text-indigo-900">{m.role}</span>
                <span className="whitespace-pre-wrap break-words">{m.content}</span>
              </li>
            ))}
          </ol>
        </section>
      ) : null}
      <section>
        <h4 className="mb-1 text-xs font-semibold uppercase text-slate-600">Attributes</h4>
        <Attributes values={span.attributes} />
      </section>
      {span.events.length ? (
        <section>
          <h4 className="mb-1 text-xs font-semibold uppercase text-slate-600">Events</h4>
          <ol className="space-y-1 text-xs">
            {span.events.map((event, i) => (
              <li key={i}>
                <span className="tabular-nums text-slate-600">+{formatMs(event.offset_ms)}</span>{" "}
                <span className={`font-medium ${event.name === "exception" ? "text-red-800" : "text-slate-900"}`}>{event.name}</span>
                <Attributes values={event.attributes} />
              </li>
            ))}
          </ol>
        </section>
      ) : null}
      {records.length ? (
        <section>
          <h4 className="mb-1 text-xs font-semibold uppercase text-slate-600">Log records</h4>
          <Records records={records} />
        </section>
      ) : null}
      <JsonBlock value={span} label="Raw span" />
    </div>
  );
}

function Attributes({ values }: { values: Record<string, unknown> }) {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return <p className="text-xs text-slate-600">None.</p>;
  return (
    <dl className="grid gap-x-3 gap-y-0.5 text-xs sm:grid-cols-[minmax(8rem,16rem)_1fr]">
      {entries.map(([key, value]) => (
        <div key={key} className="contents">
          <dt className="break-all font-mono text-slate-600">{key}</dt>
          <dd className="whitespace-pre-wrap break-words text-slate-900">{typeof value === "object" && value !== null ? JSON.stringify(value) : formatValue(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

function Records({ records }: { records: TraceLogRecord[] }) {
  return (
    <ol className="space-y-1 text-xs">
      {records.map((record) => (
        <li key={record.record_id} className="rounded border border-slate-200 bg-white p-2">
          <span className="tabular-nums text-slate-600">+{formatMs(record.offset_ms)}</span>{" "}
          <span className="font-semibold text-slate-800">{record.severity_text || humanize(`severity_${record.severity_number}`)}</span>{" "}
          {record.event_name ? <code className="text-slate-700">{record.event_name}</code> : null}{" "}
          <span className="whitespace-pre-wrap break-words text-slate-900">{typeof record.body === "string" ? record.body : JSON.stringify(record.body)}</span>
          {Object.keys(record.attributes ?? {}).length ? <Attributes values={record.attributes} /> : null}
        </li>
      ))}
    </ol>
  );
}
