// The ReAct steps of a run as a compact table: one line per step (number, action, a duration
// bar, an error flag), details on demand. A 24-step run fits on a screen; expand or collapse
// all, jump to the failing step, and the steps matching the search the page was opened from are
// highlighted and open.
import { Fragment, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { formatMs, formatValue } from "../lib/format";
import { ERROR_WORDS, isRecord, stepFailed, stepMatches, type ReactStep } from "../lib/trace";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Text with the search term marked (yellow) and error words marked (red). */
export function Highlighted({ text, term }: { text: string; term?: string }) {
  const parts = useMemo(() => {
    const patterns = [ERROR_WORDS.source, ...(term?.trim() ? [escapeRegExp(term.trim())] : [])];
    const pattern = new RegExp(`(${patterns.join("|")})`, "gi");
    return text.split(pattern);
  }, [text, term]);
  const lowered = term?.trim().toLowerCase();
  return (
    <>
      {parts.map((part, index) => {
        if (index % 2 === 0 || !part) return <Fragment key={index}>{part}</Fragment>;
        if (lowered && part.toLowerCase() === lowered)
          return (
            <mark key={index} className="rounded bg-yellow-200 px-0.5 text-slate-900">
              {part}
            </mark>
          );
        return (
          <mark key={index} className="rounded bg-red-100 px-0.5 text-red-900" data-testid="error-mark">
            {part}
          </mark>
        );
      })}
    </>
  );
}

function Value({ value, term }: { value: unknown; term?: string }) {
  if (value === null || value === undefined) return <span className="text-slate-600">—</span>;
  if (typeof value === "string")
    return (
      <span className="whitespace-pre-wrap [overflow-wrap:anywhere]">
        <Highlighted text={value} term={term} />
      </span>
    );
  if (typeof value !== "object") return <span>{formatValue(value)}</span>;
  if (isRecord(value) && Object.values(value).every((v) => v === null || typeof v !== "object")) {
    return (
      <span className="flex flex-wrap gap-1.5">
        {Object.entries(value).map(([k, v]) => (
          <span key={k} className="max-w-full rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-800 [overflow-wrap:anywhere]">
            <span className="text-slate-600">{k}:</span> <Highlighted text={formatValue(v)} term={term} />
          </span>
        ))}
      </span>
    );
  }
  return (
    <pre className="whitespace-pre-wrap rounded bg-slate-50 p-2 text-xs [overflow-wrap:anywhere]">
      <Highlighted text={JSON.stringify(value, null, 2)} term={term} />
    </pre>
  );
}

function Detail({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="grid gap-x-3 gap-y-0.5 sm:grid-cols-[7rem_minmax(0,1fr)]">
      <dt className="font-medium text-slate-600">{label}</dt>
      <dd className="min-w-0 text-slate-900">{children}</dd>
    </div>
  );
}

/** `step`: the index of the step a search matched (marked and open even when the marked words
 * differ from its text in case or accents). */
export function StepTable({ steps, highlight, step: matched }: { steps: ReactStep[]; highlight?: string; step?: number }) {
  const failed = useMemo(() => steps.map(stepFailed), [steps]);
  const matches = useMemo(
    () => steps.map((step, index) => index === matched || Boolean(highlight && stepMatches(step, highlight))),
    [steps, highlight, matched],
  );
  const [open, setOpen] = useState<Set<number>>(() => new Set(steps.flatMap((_, i) => (matches[i] ? [i] : []))));
  const rows = useRef<(HTMLTableRowElement | null)[]>([]);
  const longest = Math.max(1, ...steps.map((s) => s.durationMs ?? 0));
  const total = steps.reduce((sum, s) => sum + (s.durationMs ?? 0), 0);
  const firstFailed = failed.indexOf(true);
  const firstMatch = matches.indexOf(true);

  useEffect(() => {
    if (firstMatch >= 0) rows.current[firstMatch]?.scrollIntoView?.({ block: "center" });
  }, [firstMatch]);

  const toggle = (index: number) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(index)) next.delete(index);
      else next.add(index);
      return next;
    });
  const jumpTo = (index: number) => {
    setOpen((current) => new Set(current).add(index));
    rows.current[index]?.scrollIntoView?.({ block: "center" });
    rows.current[index]?.querySelector("button")?.focus();
  };

  return (
    <div data-testid="react-timeline">
      <div className="mb-2 flex flex-wrap items-center gap-2 text-sm">
        <span className="text-slate-700">
          {steps.length} steps{total ? `, ${formatMs(total)} in all` : ""}
          {highlight && firstMatch >= 0 ? ` · ${matches.filter(Boolean).length} matching “${highlight}”` : ""}
        </span>
        <span className="ml-auto flex flex-wrap gap-2">
          {firstFailed >= 0 ? (
            <button type="button" onClick={() => jumpTo(firstFailed)} className="rounded border border-red-300 bg-red-50 px-2 py-1 text-xs font-medium text-red-900 hover:bg-red-100">
              Jump to the failing step ({steps[firstFailed].n})
            </button>
          ) : null}
          <button type="button" onClick={() => setOpen(new Set(steps.map((_, i) => i)))} className="rounded border border-slate-300 bg-white px-2 py-1 text-xs text-slate-800 hover:bg-slate-100">
            Expand all
          </button>
          <button type="button" onClick={() => setOpen(new Set())} className="rounded border border-slate-300 bg-white px-2 py-1 text-xs text-slate-800 hover:bg-slate-100">
            Collapse all
          </button>
        </span>
      </div>
      <table className="w-full table-fixed text-left text-sm">
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            <th className="w-12 py-1 font-medium">Step</th>
            <th className="py-1 pr-2 font-medium">Action</th>
            <th className="hidden w-[30%] py-1 pr-2 font-medium sm:table-cell">Duration</th>
            <th className="w-20 py-1 text-right font-medium">Time</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((step, index) => {
            const isOpen = open.has(index);
            const width = step.durationMs ? Math.max(2, (step.durationMs / longest) * 100) : 0;
            return (
              <Fragment key={index}>
                <tr
                  ref={(el) => {
                    rows.current[index] = el;
                  }}
                  data-testid="react-step"
                  data-failed={failed[index] || undefined}
                  data-match={matches[index] || undefined}
                  className={`border-t border-slate-100 ${failed[index] ? "bg-red-50" : ""} ${matches[index] ? "outline outline-2 -outline-offset-2 outline-yellow-400" : ""}`}
                >
                  <td className="py-1.5">
                    <button
                      type="button"
                      aria-expanded={isOpen}
                      aria-controls={`step-${index}`}
                      onClick={() => toggle(index)}
                      className="inline-flex items-center gap-1 rounded px-1 font-semibold text-slate-900 hover:bg-slate-100"
                      aria-label={`Step ${step.n}${failed[index] ? ", failed" : ""}: ${isOpen ? "hide" : "show"} details`}
                    >
                      <span aria-hidden="true" className={`inline-block transition-transform ${isOpen ? "rotate-90" : ""}`}>
                        ▸
                      </span>
                      {step.n}
                    </button>
                  </td>
                  <td className="truncate py-1.5 pr-2">
                    {failed[index] ? (
                      <span className="mr-1 rounded bg-red-700 px-1 text-xs font-semibold text-white" title="This step reports an error">
                        error
                      </span>
                    ) : null}
                    <code className="rounded bg-indigo-50 px-1.5 py-0.5 text-indigo-900" title={step.action ?? ""}>
                      {step.action ?? "—"}
                    </code>
                  </td>
                  <td className="hidden py-1.5 pr-2 sm:table-cell" aria-hidden="true">
                    <div className="h-2 rounded bg-slate-100">
                      <div className={`h-2 rounded ${failed[index] ? "bg-red-500" : "bg-indigo-500"}`} style={{ width: `${width}%` }} />
                    </div>
                  </td>
                  <td className="py-1.5 text-right tabular-nums text-slate-800">{formatMs(step.durationMs)}</td>
                </tr>
                {isOpen ? (
                  <tr id={`step-${index}`} data-testid="react-step-detail" className={failed[index] ? "bg-red-50" : ""}>
                    <td colSpan={4} className="pb-3 pl-4 pr-1 sm:pl-12">
                      <dl className="space-y-1.5 text-sm">
                        {step.thought !== null ? (
                          <Detail label="Thought">
                            <Value value={step.thought} term={highlight} />
                          </Detail>
                        ) : null}
                        {step.input !== undefined ? (
                          <Detail label="Input">
                            <Value value={step.input} term={highlight} />
                          </Detail>
                        ) : null}
                        {step.observation !== undefined ? (
                          <Detail label="Observation">
                            <Value value={step.observation} term={highlight} />
                          </Detail>
                        ) : null}
                        {Object.keys(step.extra).length ? (
                          <Detail label="Other">
                            <Value value={step.extra} term={highlight} />
                          </Detail>
                        ) : null}
                      </dl>
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
