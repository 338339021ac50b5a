import { kpiChange, type Direction } from "../lib/kpi";

const TONES = { good: "text-emerald-800 bg-emerald-50", bad: "text-red-800 bg-red-50", neutral: "text-slate-700 bg-slate-100" };

export function KpiCard(props: {
  label: string;
  value: string;
  current: number;
  previous: number;
  unit: "percent" | "points";
  direction: Direction;
  previousLabel: string;
  /** The previous period had no runs: no change is shown. */
  previousEmpty?: boolean;
  testId?: string;
}) {
  const change = kpiChange(props.current, props.previous, { unit: props.unit, direction: props.direction, previousEmpty: props.previousEmpty });
  return (
    <div className="min-w-0 rounded-lg border border-slate-200 bg-white p-3 shadow-sm sm:p-4" data-testid={props.testId}>
      <p className="text-sm text-slate-600">{props.label}</p>
      <p className="mt-1 truncate text-xl font-semibold tabular-nums text-slate-900 sm:text-2xl" data-testid={props.testId ? `${props.testId}-value` : undefined}>
        {props.value}
      </p>
      <p className="mt-2 flex flex-wrap items-center gap-1.5 text-xs">
        <span className={`rounded px-1.5 py-0.5 font-medium ${TONES[change.tone]}`}>
          {change.arrow ? <span aria-hidden="true">{change.arrow} </span> : null}
          {change.label}
        </span>
        <span className="text-slate-600">vs {props.previousLabel}</span>
      </p>
    </div>
  );
}
