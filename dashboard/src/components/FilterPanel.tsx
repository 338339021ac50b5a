import { useEffect, useState, type FormEvent } from "react";
import { ENVIRONMENTS, STATUSES } from "../api/types";
import { toggleListValue, type FilterKey, type Filters } from "../lib/filters";
import { humanize } from "../lib/format";

const TEXT_FIELDS: { key: FilterKey; label: string; placeholder?: string; type?: string; step?: string }[] = [
  { key: "ticket_id", label: "Ticket id", placeholder: "12345" },
  { key: "category", label: "Category", placeholder: "billing_issue" },
  { key: "workflow_version", label: "Workflow version", placeholder: "v1.2" },
  { key: "workflow_error_type", label: "Error type", placeholder: "TimeoutError" },
  { key: "workflow_error_node", label: "Error node", placeholder: "retriever" },
  { key: "resolution_status", label: "Resolution", placeholder: "ESCALATED" },
  { key: "customer_type", label: "Customer type", placeholder: "VIP" },
  { key: "start_date", label: "From", type: "date" },
  { key: "end_date", label: "To (inclusive)", type: "date" },
  { key: "min_execution_time", label: "Min duration (s)", type: "number", step: "0.1" },
  { key: "max_execution_time", label: "Max duration (s)", type: "number", step: "0.1" },
  { key: "confidence_min", label: "Confidence ≥", type: "number", step: "0.05" },
  { key: "confidence_max", label: "Confidence ≤", type: "number", step: "0.05" },
];

const BOOL_FIELDS: { key: FilterKey; label: string }[] = [
  { key: "needs_more_info", label: "Needed more info" },
  { key: "is_system_error", label: "System error" },
];

/** The API's date filters take a date or a datetime; the date inputs show only the date part. */
function dateInputValue(value: string | undefined): string {
  return value ? value.slice(0, 10) : "";
}

export function FilterPanel({ filters, onChange }: { filters: Filters; onChange: (next: Filters) => void }) {
  const [q, setQ] = useState(filters.q ?? "");
  const [draft, setDraft] = useState<Filters>(filters);
  useEffect(() => {
    setQ(filters.q ?? "");
    setDraft(filters);
  }, [filters]);

  const apply = (event?: FormEvent) => {
    event?.preventDefault();
    onChange({ ...draft, q: q.trim() || undefined });
  };
  const setNow = (key: FilterKey, value: string) => onChange({ ...filters, [key]: value || undefined });
  const statuses = (filters.status ?? "").split(",").filter(Boolean);

  return (
    <form onSubmit={apply} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" aria-label="Filters">
      <div className="flex flex-wrap items-end gap-3">
        <label className="min-w-[14rem] flex-1 text-sm text-slate-700">
          Search
          <input
            id="log-search"
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder="Ticket id, category or error message  (press / to focus)"
            className="mt-1 w-full rounded border border-slate-300 px-3 py-1.5"
          />
        </label>
        <div role="group" aria-label="Status" className="flex flex-wrap gap-1">
          {STATUSES.map((status) => (
            <button
              key={status}
              type="button"
              aria-pressed={statuses.includes(status)}
              onClick={() => setNow("status", toggleListValue(filters.status, status))}
              className={`rounded-full border px-3 py-1 text-xs font-semibold ${
                statuses.includes(status) ? "border-indigo-700 bg-indigo-700 text-white" : "border-slate-300 bg-white text-slate-800 hover:bg-slate-100"
              }`}
            >
              {status}
            </button>
          ))}
        </div>
        <label className="text-sm text-slate-700">
          Environment
          <select
            aria-label="Environment"
            value={filters.environment ?? ""}
            onChange={(e) => setNow("environment", e.target.value)}
            className="mt-1 block rounded border border-slate-300 bg-white px-2 py-1.5"
          >
            <option value="">All</option>
            {ENVIRONMENTS.map((env) => (
              <option key={env} value={env}>
                {env}
              </option>
            ))}
          </select>
        </label>
        {BOOL_FIELDS.map(({ key, label }) => (
          <label key={key} className="text-sm text-slate-700">
            {label}
            <select
              aria-label={label}
              value={filters[key] ?? ""}
              onChange={(e) => setNow(key, e.target.value)}
              className="mt-1 block rounded border border-slate-300 bg-white px-2 py-1.5"
            >
              <option value="">Any</option>
              <option value="true">Yes</option>
              <option value="false">No</option>
            </select>
          </label>
        ))}
        <button type="submit" className="rounded bg-indigo-700 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-800">
          Apply
        </button>
      </div>
      <details className="text-sm" open={TEXT_FIELDS.some(({ key }) => filters[key])}>
        <summary className="cursor-pointer text-slate-700">More filters</summary>
        <div className="mt-2 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-5">
          {TEXT_FIELDS.map(({ key, label, placeholder, type, step }) => (
            <label key={key} className="text-slate-700">
              {label}
              <input
                name={key}
                type={type ?? "text"}
                step={step}
                placeholder={placeholder}
                value={type === "date" ? dateInputValue(draft[key]) : draft[key] ?? ""}
                onChange={(e) => setDraft({ ...draft, [key]: e.target.value || undefined })}
                className="mt-1 w-full rounded border border-slate-300 px-2 py-1"
              />
            </label>
          ))}
        </div>
        {filters.metrics ? (
          <p className="mt-2 text-xs text-slate-600">
            Also filtering on: {Object.entries(filters.metrics).map(([k, v]) => `${humanize(k.replace("metrics.", ""))} = ${v}`).join(", ")}
          </p>
        ) : null}
      </details>
    </form>
  );
}
