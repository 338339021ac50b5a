import { Boundary, Card, CopyButton, JsonBlock } from "./ui";
import { StepTable } from "./StepTable";
import { formatMs, formatValue, humanize } from "../lib/format";
import { isMarker, Redactable } from "./Redacted";
import { isRecord, normalizeTrace, payloadRest, type Section } from "../lib/trace";

/** Everything the AI did on one ticket: the ReAct steps, the named sections, the answer.
 * `highlight`: the search the page was opened from (its matching steps are marked and open);
 * `step`: the index of the step the search matched (from the row's `match.field`). */
export function TraceViewer({ payload, highlight, step }: { payload: unknown; highlight?: string; step?: number }) {
  const record = isRecord(payload) ? payload : {};
  const trace = normalizeTrace(record.trace);
  const rest = payloadRest(payload);
  return (
    <div className="space-y-4">
      <Panel title="Reasoning steps (ReAct)" raw={record.trace}>
        {trace.steps.length ? (
          <StepTable steps={trace.steps} highlight={highlight} step={step} />
        ) : trace.nodes ? (
          <NodeList nodes={trace.nodes} />
        ) : (
          <p className="text-sm text-slate-600">{trace.empty ? "This run has no trace." : "No step-by-step iterations in this trace; see the sections below."}</p>
        )}
      </Panel>
      {trace.sections.length ? (
        <div className="grid gap-4 lg:grid-cols-2">
          {trace.sections.map((section) => (
            <Panel key={section.key} title={section.title} raw={section.value}>
              <SectionBody section={section} />
            </Panel>
          ))}
        </div>
      ) : null}
      {trace.auditEvents.length ? (
        <Panel title="Audit events" raw={trace.auditEvents}>
          <ol className="space-y-1 text-sm">
            {trace.auditEvents.map((event, index) => (
              <li key={index} className="flex flex-wrap gap-x-3 [overflow-wrap:anywhere]">
                <span className="w-20 shrink-0 tabular-nums text-slate-600">{typeof event.t_ms === "number" ? `+${formatMs(event.t_ms)}` : ""}</span>
                <span className="font-medium text-slate-800">{String(event.event ?? event.name ?? "event")}</span>
                {event.node ? <span className="text-slate-600">{String(event.node)}</span> : null}
              </li>
            ))}
          </ol>
        </Panel>
      ) : null}
      {trace.other.map((section) => (
        <Panel key={section.key} title={`Trace: ${section.title}`} raw={section.value}>
          <SectionBody section={section} />
        </Panel>
      ))}
      <div className="grid gap-4 lg:grid-cols-2">
        <TextPanel title="Final response" text={record.final_response} testId="final-response" />
        <TextPanel title="Private note" text={record.private_note} testId="private-note" />
      </div>
      {Object.keys(rest).length ? (
        <Card title="Other payload fields">
          <KeyValues value={rest} />
        </Card>
      ) : null}
    </div>
  );
}

/** A card whose body can never take the page down: a render error shows the raw JSON instead. */
function Panel({ title, raw, children }: { title: string; raw: unknown; children: React.ReactNode }) {
  return (
    <Card title={title}>
      <Boundary fallback={() => <JsonBlock value={raw} label="Raw JSON (could not display this section)" defaultOpen />}>
        {children}
      </Boundary>
      <div className="mt-3">
        <JsonBlock value={raw} label="Raw JSON" />
      </div>
    </Card>
  );
}

function InlineValue({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="text-slate-600">—</span>;
  if (typeof value === "string") return <span className="whitespace-pre-wrap [overflow-wrap:anywhere]"><Redactable text={value} /></span>;
  if (typeof value !== "object") return <span>{formatValue(value)}</span>;
  if (isRecord(value) && Object.values(value).every((v) => v === null || typeof v !== "object")) {
    return (
      <span className="flex flex-wrap gap-1.5">
        {Object.entries(value).map(([k, v]) => (
          <span key={k} className="max-w-full rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-800 [overflow-wrap:anywhere]">
            <span className="text-slate-600"><Redactable text={k} />:</span> <Redactable text={formatValue(v)} />
          </span>
        ))}
      </span>
    );
  }
  return <pre className="whitespace-pre-wrap rounded bg-slate-50 p-2 text-xs [overflow-wrap:anywhere]"><Redactable text={JSON.stringify(value, null, 2)} /></pre>;
}

function NodeList({ nodes }: { nodes: unknown[] }) {
  if (!nodes.length) return <p className="text-sm text-slate-600">The trace is an empty list.</p>;
  return (
    <ol className="space-y-2" data-testid="trace-nodes">
      {nodes.map((node, index) => {
        const name = isRecord(node) ? (node.node ?? node.name ?? node.type ?? node.event) : undefined;
        return (
          <li key={index} className="rounded border border-slate-200 p-2 text-sm">
            <p className="font-medium text-slate-900">
              {index + 1}. {name !== undefined ? String(name) : isRecord(node) ? "Node" : formatValue(node)}
            </p>
            {isRecord(node) ? <KeyValues value={node} /> : null}
          </li>
        );
      })}
    </ol>
  );
}

/** Scalars as a two-column list, lists of records as small tables, anything deeper as JSON. */
export function KeyValues({ value }: { value: unknown }) {
  if (!isRecord(value)) return <InlineValue value={value} />;
  const entries = Object.entries(value);
  if (!entries.length) return <p className="text-sm text-slate-600">Empty.</p>;
  return (
    <dl className="grid gap-x-3 gap-y-1.5 text-sm sm:grid-cols-[10rem_minmax(0,1fr)]">
      {entries.map(([key, v]) => (
        <div key={key} className="contents">
          <dt className="font-medium text-slate-600"><Redactable text={isMarker(key) ? key : humanize(key)} /></dt>
          <dd className="min-w-0 text-slate-900 [overflow-wrap:anywhere]">{Array.isArray(v) && v.length && v.every(isRecord) ? <RecordTable rows={v as Record<string, unknown>[]} /> : Array.isArray(v) && v.every((x) => typeof x !== "object") ? <ScalarList items={v} /> : <InlineValue value={v} />}</dd>
        </div>
      ))}
    </dl>
  );
}

function ScalarList({ items }: { items: unknown[] }) {
  if (!items.length) return <span className="text-slate-600">none</span>;
  return (
    <ul className="list-inside list-disc">
      {items.map((item, index) => (
        <li key={index}><Redactable text={formatValue(item)} /></li>
      ))}
    </ul>
  );
}

function RecordTable({ rows }: { rows: Record<string, unknown>[] }) {
  const columns = Array.from(new Set(rows.flatMap((row) => Object.keys(row)))).slice(0, 8);
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-0 text-left text-xs">
        <thead className="text-slate-600">
          <tr>
            {columns.map((c) => (
              <th key={c} className="pr-3 font-medium">
                {humanize(c)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={index} className="border-t border-slate-100 align-top">
              {columns.map((c) => (
                <td key={c} className="py-0.5 pr-3 [overflow-wrap:anywhere]">
                  <Redactable text={formatValue(row[c])} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function SectionBody({ section }: { section: Section }) {
  return <KeyValues value={section.value} />;
}

function TextPanel({ title, text, testId }: { title: string; text: unknown; testId: string }) {
  const shown = text === undefined || text === null || text === "" ? null : typeof text === "string" ? text : JSON.stringify(text, null, 2);
  return (
    <Card title={title} actions={shown ? <CopyButton text={shown} /> : null}>
      {shown ? (
        <p className="whitespace-pre-wrap text-sm text-slate-900 [overflow-wrap:anywhere]" data-testid={testId}>
          <Redactable text={shown} />
        </p>
      ) : (
        <p className="text-sm text-slate-600">None.</p>
      )}
    </Card>
  );
}
