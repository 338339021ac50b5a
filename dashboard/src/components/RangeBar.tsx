import { useState, type ReactNode } from "react";
import { ENVIRONMENTS } from "../api/types";
import type { LiveStatus } from "../lib/live";
import { PRESETS, type RangeState } from "../lib/range";
import { LiveBadge } from "./ui";

export function RangeBar({ range, onChange, live, children }: { range: RangeState; onChange: (next: RangeState) => void; live?: LiveStatus; children?: ReactNode }) {
  const today = new Date().toISOString().slice(0, 10);
  const [from, setFrom] = useState(range.from || today);
  const [to, setTo] = useState(range.to || today);
  const customInvalid = from > to;

  return (
    <div className="flex flex-wrap items-end gap-3">
      <div role="group" aria-label="Date range" className="inline-flex max-w-full flex-wrap overflow-hidden rounded-md border border-slate-300 bg-white">
        {PRESETS.map((preset) => (
          <button
            key={preset.value}
            type="button"
            aria-pressed={range.preset === preset.value}
            onClick={() => onChange({ ...range, preset: preset.value, from: preset.value === "custom" ? from : "", to: preset.value === "custom" ? to : "" })}
            className={`border-r border-slate-300 px-2.5 py-1.5 text-sm last:border-r-0 sm:px-3 ${
              range.preset === preset.value ? "bg-indigo-700 font-medium text-white" : "text-slate-800 hover:bg-slate-100"
            }`}
          >
            {preset.label}
          </button>
        ))}
      </div>
      {range.preset === "custom" ? (
        <form
          className="flex flex-wrap items-end gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            if (!customInvalid) onChange({ ...range, from, to });
          }}
        >
          <label className="text-sm text-slate-700">
            From
            <input type="date" value={from} max={to} onChange={(e) => setFrom(e.target.value)} className="ml-1 rounded border border-slate-300 px-2 py-1" />
          </label>
          <label className="text-sm text-slate-700">
            To
            <input type="date" value={to} min={from} onChange={(e) => setTo(e.target.value)} className="ml-1 rounded border border-slate-300 px-2 py-1" />
          </label>
          <button type="submit" disabled={customInvalid} className="rounded bg-indigo-700 px-3 py-1 text-sm text-white disabled:opacity-50">
            Apply
          </button>
          {customInvalid ? <span className="text-sm text-red-800">“From” must not be after “To”.</span> : null}
        </form>
      ) : null}
      <label className="text-sm text-slate-700">
        Environment
        <select
          aria-label="Environment"
          value={range.environment}
          onChange={(e) => onChange({ ...range, environment: e.target.value })}
          className="ml-2 rounded border border-slate-300 bg-white px-2 py-1"
        >
          <option value="">All</option>
          {ENVIRONMENTS.map((env) => (
            <option key={env} value={env}>
              {env}
            </option>
          ))}
        </select>
      </label>
      {children}
      {live ? (
        <span className="ml-auto">
          <LiveBadge status={live} />
        </span>
      ) : null}
    </div>
  );
}
