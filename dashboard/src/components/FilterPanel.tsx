import { useEffect, useRef, useState, type FormEvent } from "react";
import { getJson } from "../api/client";
import { ENVIRONMENTS, STATUSES, type LogValues } from "../api/types";
import { activeFilters, toggleListValue, withoutFilter, type FilterKey, type Filters } from "../lib/filters";

type Field = { key: FilterKey; label: string; placeholder?: string; type?: string; step?: string; suggest?: boolean };

const TEXT_FIELDS: Field[] = [
  { key: "ticket_id", label: "Ticket id", placeholder: "12345" },
  { key: "category", label: "Category", placeholder: "billing_issue", suggest: true },
  { key: "workflow_version", label: "Workflow version", placeholder: "v1.2", suggest: true },
  { key: "workflow_error_type", label: "Error type", placeholder: "TimeoutError", suggest: true },
  { key: "workflow_error_node", label: "Error node", placeholder: "retriever", suggest: true },
  { key: "resolution_status", label: "Resolution", placeholder: "ESCALATED", suggest: true },
  { key: "customer_type", label: "Customer type", placeholder: "VIP", suggest: true },
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

/** Values for the dropdowns (category, version, error type and node, resolution, customer
 * type), fetched once per field the first time the panel opens. */
function useSuggestions(open: boolean): Record<string, string[]> {
  const [values, setValues] = useState<Record<string, string[]>>({});
  useEffect(() => {
    if (!open) return;
    let cancelled = false;
    for (const field of TEXT_FIELDS.filter((f) => f.suggest)) {
      getJson<LogValues>("/api/v1/logs/values", { field: field.key })
        .then((data) => !cancelled && setValues((v) => ({ ...v, [field.key]: (data.values ?? []).map((x) => x.value) })))
        .catch(() => undefined); // suggestions are a help: typing still works without them
    }
    return () => {
      cancelled = true;
    };
  }, [open]);
  return values;
}

/** `searchError`: why the last search could not run (422 search_too_broad), shown by the box. */
export function FilterPanel({ filters, onChange, searchError }: { filters: Filters; onChange: (next: Filters) => void; searchError?: string }) {
  const [q, setQ] = useState(filters.q ?? "");
  const [draft, setDraft] = useState<Filters>(filters);
  const [moreOpen, setMoreOpen] = useState(TEXT_FIELDS.some(({ key }) => filters[key]));
  const suggestions = useSuggestions(moreOpen);
  // A draft follows the URL only where the URL changed: clicking a status chip keeps the
  // half-typed search and the other unsaved fields.
  const applied = useRef(filters);
  const filtersKey = JSON.stringify(filters);
  useEffect(() => {
    const before = applied.current;
    applied.current = filters;
    if ((before.q ?? "") !== (filters.q ?? "")) setQ(filters.q ?? "");
    setDraft((current) => {
      const next = { ...current };
      for (const { key } of TEXT_FIELDS) if (before[key] !== filters[key]) next[key] = filters[key];
      return next;
    });
  }, [filtersKey]); // by value: the parent builds a new object on every render

  const apply = (event?: FormEvent) => {
    event?.preventDefault();
    const next: Filters = { ...filters, q: q.trim() || undefined };
    for (const { key } of TEXT_FIELDS) next[key] = draft[key]?.trim() || undefined;
    onChange(next);
  };
  const setNow = (key: FilterKey, value: string) => onChange({ ...filters, [key]: value || undefined });
  const statuses = (filters.status ?? "").split(",").filter(Boolean);

  return (
    <form onSubmit={apply} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" aria-label="Filters">
      <div className="flex flex-wrap items-end gap-3">
        <label className="min-w-[12rem] flex-1 text-sm text-slate-700">
          Search
          <input
            id="log-search"
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder='Words, "a phrase", -exclude, T-123 or ERR_CODE  (press / to focus)'
            aria-describedby={searchError ? "log-search-error" : undefined}
            aria-invalid={searchError ? true : undefined}
            className={`mt-1 w-full rounded border px-3 py-1.5 ${searchError ? "border-red-600" : "border-slate-300"}`}
          />
          {searchError ? (
            <span id="log-search-error" role="alert" data-testid="search-error" className="mt-1 block text-sm text-red-800">
              {searchError}
            </span>
          ) : null}
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
      <details className="text-sm" open={moreOpen} onToggle={(e) => setMoreOpen((e.currentTarget as HTMLDetailsElement).open)}>
        <summary className="cursor-pointer text-slate-700">More filters</summary>
        <div className="mt-2 grid grid-cols-1 gap-3 min-[420px]:grid-cols-2 sm:grid-cols-3 lg:grid-cols-5">
          {TEXT_FIELDS.map(({ key, label, placeholder, type, step, suggest }) => (
            <label key={key} className="min-w-0 text-slate-700">
              {label}
              <input
                name={key}
                type={type ?? "text"}
                step={step}
                placeholder={placeholder}
                list={suggest && suggestions[key]?.length ? `values-${key}` : undefined}
                autoComplete="off"
                value={type === "date" ? dateInputValue(draft[key]) : draft[key] ?? ""}
                onChange={(e) => setDraft({ ...draft, [key]: e.target.value || undefined })}
                className="mt-1 w-full min-w-0 rounded border border-slate-300 px-2 py-1"
              />
              {suggest && suggestions[key]?.length ? (
                <datalist id={`values-${key}`} data-testid={`values-${key}`}>
                  {suggestions[key].map((value) => (
                    <option key={value} value={value} />
                  ))}
                </datalist>
              ) : null}
            </label>
          ))}
        </div>
      </details>
    </form>
  );
}

/** The active filters as chips; × removes one. */
export function FilterChips({ filters, onChange, names = {} }: { filters: Filters; onChange: (next: Filters) => void; names?: Record<string, string> }) {
  const active = activeFilters(filters);
  if (!active.length) return null;
  return (
    <ul aria-label="Active filters" className="flex flex-wrap gap-2" data-testid="filter-chips">
      {active.map(({ key, label, value }) => (
        <li key={key} className="inline-flex max-w-full items-center gap-1 rounded-full border border-indigo-200 bg-indigo-50 py-0.5 pl-3 pr-1 text-xs text-indigo-950">
          <span className="min-w-0 truncate" title={`${label}: ${names[key] ?? value}`}>
            <span className="font-medium">{label}:</span> {names[key] ?? value}
          </span>
          <button
            type="button"
            onClick={() => onChange(withoutFilter(filters, key))}
            aria-label={`Remove filter ${label}`}
            className="rounded-full px-1.5 text-indigo-900 hover:bg-indigo-100"
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
