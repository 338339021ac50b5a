// Two runs side by side (for example one ticket before and after a version change): their
// headers, their metrics with the difference, their steps aligned by position (a different
// action or a failing step stands out), their errors and final answers.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { ApiError, api, unwrap } from "../api/client";
import type { LogDetail } from "../api/types";
import { useClient } from "../client";
import { Card, EmptyState, ErrorState, Spinner, StatusBadge, useTitle } from "../components/ui";
import { formatDateTime, formatMs, formatSeconds, formatValue, humanize } from "../lib/format";
import { useLoader } from "../lib/hooks";
import { isRecord, normalizeTrace, stepFailed, type ReactStep } from "../lib/trace";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function useRun(id: string | null) {
  const client = useClient();
  return useLoader(`${client.slug}|${id}`, () =>
    id ? api.GET("/api/v1/logs/{id}", { params: { path: { id } } }).then(unwrap) : Promise.resolve(null),
  );
}

export function ComparePage() {
  const [search, setSearch] = useSearchParams();
  const client = useClient();
  const a = search.get("a");
  const b = search.get("b");
  const runA = useRun(a);
  const runB = useRun(b);
  useTitle("Compare runs", client.name);

  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-bold text-slate-900">Compare two runs</h1>
      <PickRuns a={a ?? ""} b={b ?? ""} onPick={(next) => setSearch(next)} />
      {[runA, runB].map((run, index) =>
        run.error ? (
          run.error instanceof ApiError && run.error.status === 404 ? (
            <EmptyState key={index} title={`Run ${index ? "B" : "A"} not found.`}>It does not exist, or it belongs to another client.</EmptyState>
          ) : (
            <ErrorState key={index} error={run.error} onRetry={run.reload} />
          )
        ) : null,
      )}
      {(a && !runA.data && runA.loading) || (b && !runB.data && runB.loading) ? <Spinner label="Loading the runs…" /> : null}
      {runA.data && runB.data ? <Comparison a={runA.data} b={runB.data} /> : null}
    </div>
  );
}

function PickRuns({ a, b, onPick }: { a: string; b: string; onPick: (next: URLSearchParams) => void }) {
  const [draftA, setDraftA] = useState(a);
  const [draftB, setDraftB] = useState(b);
  const valid = UUID.test(draftA.trim()) && UUID.test(draftB.trim());
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (valid) onPick(new URLSearchParams({ a: draftA.trim(), b: draftB.trim() }));
  };
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-3 text-sm shadow-sm" aria-label="Runs to compare">
      <label className="min-w-[16rem] flex-1 text-slate-700">
        Run A (log id)
        <input value={draftA} onChange={(e) => setDraftA(e.target.value)} className="mt-1 w-full rounded border border-slate-300 px-2 py-1 font-mono text-xs" placeholder="0193f0c2-…" />
      </label>
      <label className="min-w-[16rem] flex-1 text-slate-700">
        Run B (log id)
        <input value={draftB} onChange={(e) => setDraftB(e.target.value)} className="mt-1 w-full rounded border border-slate-300 px-2 py-1 font-mono text-xs" placeholder="0193f0c2-…" />
      </label>
      <button type="submit" disabled={!valid} className="rounded bg-indigo-700 px-3 py-1.5 font-medium text-white hover:bg-indigo-800 disabled:opacity-50">
        Compare
      </button>
    </form>
  );
}

function Side({ log, label }: { log: LogDetail; label: string }) {
  const client = useClient();
  return (
    <div className="min-w-0 space-y-1 text-sm">
      <p className="flex flex-wrap items-center gap-2">
        <span className="font-semibold text-slate-900">{label}</span>
        <StatusBadge status={log.status} />
        <Link to={client.path(`/logs/${log.id}`)} className="min-w-0 font-medium text-indigo-800 underline [overflow-wrap:anywhere]">
          Ticket {log.ticket_id ?? "—"}
        </Link>
      </p>
      <p className="text-slate-700">
        {formatDateTime(log.executed_at)} · {log.workflow_version ?? "no version"} · {formatSeconds(log.execution_time_seconds)}
      </p>
      {log.workflow_error ? (
        <p className="rounded bg-red-50 px-2 py-1 text-red-900 [overflow-wrap:anywhere]">
          {log.workflow_error_type ? <strong>{log.workflow_error_type}: </strong> : null}
          {log.workflow_error}
        </p>
      ) : null}
    </div>
  );
}

function difference(a: unknown, b: unknown): string {
  if (typeof a === "number" && typeof b === "number") {
    const d = b - a;
    return d === 0 ? "=" : `${d > 0 ? "+" : "−"}${formatValue(Math.abs(d))}`;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? "=" : "changed";
}

function MetricsDiff({ a, b }: { a: LogDetail; b: LogDetail }) {
  const ma = isRecord(a.metrics) ? a.metrics : {};
  const mb = isRecord(b.metrics) ? b.metrics : {};
  const keys = Array.from(new Set([...Object.keys(ma), ...Object.keys(mb)])).sort();
  if (!keys.length) return <p className="text-sm text-slate-600">Neither run has metrics.</p>;
  return (
    <table className="w-full table-fixed text-sm" data-testid="metrics-diff">
      <thead className="text-xs uppercase text-slate-600">
        <tr>
          <th className="py-1 text-left font-medium">Metric</th>
          <th className="py-1 text-right font-medium">A</th>
          <th className="py-1 text-right font-medium">B</th>
          <th className="py-1 text-right font-medium">B − A</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => {
          const change = difference(ma[key], mb[key]);
          return (
            <tr key={key} className={`border-t border-slate-100 ${change !== "=" ? "bg-amber-50" : ""}`}>
              <th scope="row" className="py-1 pr-2 text-left font-medium text-slate-700 [overflow-wrap:anywhere]">
                {humanize(key)}
              </th>
              <td className="py-1 text-right tabular-nums [overflow-wrap:anywhere]">{formatValue(ma[key])}</td>
              <td className="py-1 text-right tabular-nums [overflow-wrap:anywhere]">{formatValue(mb[key])}</td>
              <td className="py-1 text-right tabular-nums text-slate-800">{change}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function StepCell({ step }: { step: ReactStep | undefined }) {
  if (!step) return <span className="text-slate-600">—</span>;
  const failed = stepFailed(step);
  return (
    <span className="flex min-w-0 flex-wrap items-center gap-1.5">
      {failed ? <span className="rounded bg-red-700 px-1 text-xs font-semibold text-white">error</span> : null}
      <code className="min-w-0 truncate rounded bg-indigo-50 px-1.5 py-0.5 text-indigo-900" title={step.action ?? ""}>
        {step.action ?? "—"}
      </code>
      <span className="tabular-nums text-slate-700">{formatMs(step.durationMs)}</span>
    </span>
  );
}

function StepsDiff({ a, b }: { a: LogDetail; b: LogDetail }) {
  const stepsA = normalizeTrace(isRecord(a.payload) ? a.payload.trace : undefined).steps;
  const stepsB = normalizeTrace(isRecord(b.payload) ? b.payload.trace : undefined).steps;
  const count = Math.max(stepsA.length, stepsB.length);
  if (!count) return <p className="text-sm text-slate-600">Neither run has ReAct steps.</p>;
  return (
    <table className="w-full table-fixed text-sm" data-testid="steps-diff">
      <thead className="text-xs uppercase text-slate-600">
        <tr>
          <th className="w-12 py-1 text-left font-medium">Step</th>
          <th className="py-1 text-left font-medium">A</th>
          <th className="py-1 text-left font-medium">B</th>
        </tr>
      </thead>
      <tbody>
        {Array.from({ length: count }, (_, i) => {
          const differs = stepsA[i]?.action !== stepsB[i]?.action;
          return (
            <tr key={i} className={`border-t border-slate-100 ${differs ? "bg-amber-50" : ""}`} data-differs={differs || undefined}>
              <td className="py-1.5 font-semibold text-slate-800">{i + 1}</td>
              <td className="py-1.5 pr-2">
                <StepCell step={stepsA[i]} />
              </td>
              <td className="py-1.5">
                <StepCell step={stepsB[i]} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Answers({ a, b }: { a: LogDetail; b: LogDetail }) {
  const answer = (log: LogDetail) => (isRecord(log.payload) && typeof log.payload.final_response === "string" ? log.payload.final_response : null);
  return (
    <div className="grid gap-4 md:grid-cols-2">
      {[a, b].map((log, index) => (
        <Card key={log.id} title={`Final response ${index ? "B" : "A"}`}>
          <p className="whitespace-pre-wrap text-sm text-slate-900 [overflow-wrap:anywhere]">{answer(log) ?? "None."}</p>
        </Card>
      ))}
    </div>
  );
}

function Comparison({ a, b }: { a: LogDetail; b: LogDetail }) {
  return (
    <>
      <Card>
        <div className="grid gap-4 md:grid-cols-2" data-testid="compare-runs">
          <Side log={a} label="A" />
          <Side log={b} label="B" />
        </div>
      </Card>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Steps, side by side (a different action is highlighted)">
          <StepsDiff a={a} b={b} />
        </Card>
        <Card title="Metrics">
          <MetricsDiff a={a} b={b} />
        </Card>
      </div>
      <Answers a={a} b={b} />
    </>
  );
}
