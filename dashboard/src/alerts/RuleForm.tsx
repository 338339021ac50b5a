// Create or edit an alert rule (admins), with a live preview: "this rule would have fired N
// times in the last 7 days" (POST /api/v1/alerts/rules/preview, debounced while typing).
import { useEffect, useState, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { ENVIRONMENTS, STATUSES, type Status } from "../api/types";
import { Card, ErrorState, Spinner } from "../components/ui";
import { useLoader } from "../lib/hooks";
import { useClient } from "../client";
import { createRule, getRule, previewRule, updateRule, type AlertKind, type AlertPreview, type AlertRule, type AlertRuleInput } from "./api";
import { useCanAdminister } from "./access";
import { KINDS, formatAlertValue } from "./describe";

type ChannelType = "webhook" | "slack" | "email";
interface ChannelDraft {
  type: ChannelType;
  target: string; // url, or the address for email
  secret: string;
  hasSecret: boolean;
}
export interface Draft {
  name: string;
  kind: AlertKind;
  threshold: string;
  window_minutes: string;
  min_runs: string;
  statuses: Status[];
  error_type: string;
  error_node: string;
  metric: string;
  operator: "gt" | "gte" | "lt" | "lte";
  environment: string;
  category: string;
  workflow_version: string;
  customer_type: string;
  channels: ChannelDraft[];
  repeat_minutes: string;
}

const THRESHOLD_KINDS = new Set(["error_rate", "error_count", "duration_p95", "metric_avg"]);
const MIN_RUNS_KINDS = new Set(["error_rate", "duration_p95", "metric_avg"]);
const PREVIEW_DELAY_MS = 600;

export const emptyDraft: Draft = {
  name: "", kind: "error_rate", threshold: "20", window_minutes: "15", min_runs: "10", statuses: ["FAILED", "ERROR"],
  error_type: "", error_node: "", metric: "hallucination_risk", operator: "gt", environment: "", category: "",
  workflow_version: "", customer_type: "", channels: [{ type: "webhook", target: "", secret: "", hasSecret: false }],
  repeat_minutes: "",
};

export function draftOf(rule: AlertRule): Draft {
  return {
    name: rule.name, kind: rule.kind, threshold: rule.threshold?.toString() ?? "", window_minutes: String(rule.window_minutes),
    min_runs: String(rule.min_runs), statuses: rule.statuses ?? ["FAILED", "ERROR"], error_type: rule.error_type ?? "",
    error_node: rule.error_node ?? "", metric: rule.metric ?? "", operator: rule.operator ?? "gte",
    environment: rule.filters?.environment ?? "", category: rule.filters?.category ?? "",
    workflow_version: rule.filters?.workflow_version ?? "", customer_type: rule.filters?.customer_type ?? "",
    channels: rule.channels.map((c) => ({ type: c.type, target: c.url ?? c.to ?? "", secret: "", hasSecret: c.has_secret })),
    repeat_minutes: rule.repeat_minutes?.toString() ?? "",
  };
}

const number = (text: string): number | null => (text.trim() === "" ? null : Number(text));

/** The API body of a draft (empty strings left out or null, as the API reads them). */
export function bodyOf(draft: Draft): AlertRuleInput {
  return {
    name: draft.name.trim(), kind: draft.kind, threshold: THRESHOLD_KINDS.has(draft.kind) ? number(draft.threshold) : null,
    window_minutes: Number(draft.window_minutes), min_runs: Number(draft.min_runs || 10),
    ...(draft.kind === "error_count" ? { statuses: draft.statuses, error_type: draft.error_type || null, error_node: draft.error_node || null } : {}),
    ...(draft.kind === "metric_avg" ? { metric: draft.metric, operator: draft.operator } : {}),
    filters: { environment: draft.environment || null, category: draft.category || null, workflow_version: draft.workflow_version || null, customer_type: draft.customer_type || null },
    channels: draft.channels.map((c) =>
      c.type === "email" ? { type: c.type, to: c.target.trim() } : { type: c.type, url: c.target.trim(), ...(c.secret ? { secret: c.secret } : {}) },
    ),
    repeat_minutes: number(draft.repeat_minutes),
  };
}

/** Every message of a 400's details, with its field path ("channels 0 url: ..."). */
export function fieldErrors(details: unknown, path: string[] = []): string[] {
  if (Array.isArray(details)) return details.every((d) => typeof d === "string") ? [`${path.join(" ")}: ${details.join(" ")}`] : details.flatMap((d, i) => fieldErrors(d, [...path, String(i)]));
  if (details && typeof details === "object") return Object.entries(details).flatMap(([k, v]) => fieldErrors(v, [...path, k]));
  return [];
}

function Field({ label, children, help }: { label: string; children: ReactNode; help?: string }) {
  return (
    <label className="flex flex-col gap-1 text-sm">
      <span className="font-medium text-slate-800">{label}</span>
      {children}
      {help ? <span className="text-xs text-slate-600">{help}</span> : null}
    </label>
  );
}

const input = "rounded border border-slate-300 bg-white px-2 py-1";

function PreviewLine({ draft }: { draft: Draft }) {
  const [preview, setPreview] = useState<AlertPreview | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const definition = JSON.stringify({ ...bodyOf(draft), channels: undefined, name: undefined, repeat_minutes: undefined });
  useEffect(() => {
    let cancelled = false;
    const id = window.setTimeout(() => {
      previewRule(JSON.parse(definition))
        .then((p) => !cancelled && (setPreview(p), setProblem(null)))
        .catch((e) => !cancelled && (setPreview(null), setProblem(e instanceof ApiError ? fieldErrors(e.details).join("; ") : "Preview unavailable.")));
    }, PREVIEW_DELAY_MS);
    return () => {
      cancelled = true;
      window.clearTimeout(id);
    };
  }, [definition]);
  if (problem) return <p className="text-sm text-amber-900">Preview: {problem}</p>;
  if (!preview) return <p className="text-sm text-slate-600">Computing the preview…</p>;
  return (
    <p data-testid="rule-preview" className="text-sm text-slate-800">
      This rule would have fired <strong>{preview.fired}</strong> time{preview.fired === 1 ? "" : "s"} in the last 7 days
      <span className="text-slate-600">
        {" "}({preview.firing_windows} of {preview.windows} windows; latest value {formatAlertValue(draft.kind, preview.last_value)})
      </span>
    </p>
  );
}

function ChannelsEditor({ channels, onChange }: { channels: ChannelDraft[]; onChange: (c: ChannelDraft[]) => void }) {
  const set = (i: number, patch: Partial<ChannelDraft>) => onChange(channels.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-medium text-slate-800">Notify</legend>
      {channels.map((c, i) => (
        <div key={i} className="flex flex-wrap items-center gap-2" data-testid="channel">
          <select aria-label={`Channel ${i + 1} type`} value={c.type} onChange={(e) => set(i, { type: e.target.value as ChannelType, hasSecret: false })} className={input}>
            <option value="webhook">Webhook</option>
            <option value="slack">Slack</option>
            <option value="email">E-mail</option>
          </select>
          <input aria-label={`Channel ${i + 1} ${c.type === "email" ? "address" : "URL"}`} value={c.target} onChange={(e) => set(i, { target: e.target.value })} placeholder={c.type === "email" ? "oncall@example.com" : "https://…"} className={`${input} min-w-0 flex-1`} />
          {c.type === "webhook" ? (
            <input aria-label={`Channel ${i + 1} secret`} type="password" value={c.secret} onChange={(e) => set(i, { secret: e.target.value })} placeholder={c.hasSecret ? "unchanged" : "signing secret (16+ characters)"} className={`${input} w-56`} />
          ) : null}
          {channels.length > 1 ? (
            <button type="button" onClick={() => onChange(channels.filter((_, j) => j !== i))} className="text-xs text-red-800 underline">
              remove
            </button>
          ) : null}
        </div>
      ))}
      <button type="button" onClick={() => onChange([...channels, { type: "email", target: "", secret: "", hasSecret: false }])} className="text-sm text-indigo-800 underline">
        Add a channel
      </button>
    </fieldset>
  );
}

function KindFields({ draft, set }: { draft: Draft; set: (patch: Partial<Draft>) => void }) {
  const unit = { error_rate: "%", error_count: "runs", duration_p95: "seconds", metric_avg: "" }[draft.kind as string] ?? "";
  return (
    <div className="grid gap-3 sm:grid-cols-3">
      {draft.kind === "metric_avg" ? (
        <>
          <Field label="Metric" help="A key of the logs' metrics object.">
            <input aria-label="Metric" value={draft.metric} onChange={(e) => set({ metric: e.target.value })} className={input} />
          </Field>
          <Field label="Operator">
            <select aria-label="Operator" value={draft.operator} onChange={(e) => set({ operator: e.target.value as Draft["operator"] })} className={input}>
              <option value="gt">&gt;</option>
              <option value="gte">≥</option>
              <option value="lt">&lt;</option>
              <option value="lte">≤</option>
            </select>
          </Field>
        </>
      ) : null}
      {THRESHOLD_KINDS.has(draft.kind) ? (
        <Field label={`Threshold${unit ? ` (${unit})` : ""}`}>
          <input aria-label="Threshold" type="number" step="any" value={draft.threshold} onChange={(e) => set({ threshold: e.target.value })} className={input} />
        </Field>
      ) : null}
      {MIN_RUNS_KINDS.has(draft.kind) ? (
        <Field label="At least this many runs">
          <input aria-label="Minimum runs" type="number" min={1} value={draft.min_runs} onChange={(e) => set({ min_runs: e.target.value })} className={input} />
        </Field>
      ) : null}
      {draft.kind === "error_count" ? (
        <>
          <fieldset className="flex flex-wrap items-center gap-2 text-sm">
            <legend className="font-medium text-slate-800">Statuses</legend>
            {STATUSES.map((s) => (
              <label key={s} className="flex items-center gap-1">
                <input type="checkbox" checked={draft.statuses.includes(s)} onChange={(e) => set({ statuses: e.target.checked ? [...draft.statuses, s] : draft.statuses.filter((x) => x !== s) })} />
                {s}
              </label>
            ))}
          </fieldset>
          <Field label="Error type (optional)">
            <input aria-label="Error type" value={draft.error_type} onChange={(e) => set({ error_type: e.target.value })} className={input} />
          </Field>
          <Field label="Error node (optional)">
            <input aria-label="Error node" value={draft.error_node} onChange={(e) => set({ error_node: e.target.value })} className={input} />
          </Field>
        </>
      ) : null}
    </div>
  );
}

export function RuleFormPage() {
  const { id } = useParams();
  const clientKey = useClient().slug;
  const existing = useLoader(`rule:${clientKey}:${id ?? "new"}`, () => (id ? getRule(Number(id)) : Promise.resolve(null)));
  if (existing.error) return <ErrorState error={existing.error} onRetry={existing.reload} />;
  if (existing.loading && !existing.data) return <Spinner />;
  return <RuleForm key={id ?? "new"} rule={existing.data ?? null} />;
}

export function RuleForm({ rule }: { rule: AlertRule | null }) {
  const navigate = useNavigate();
  const client = useClient();
  const admin = useCanAdminister();
  const [draft, setDraft] = useState<Draft>(() => (rule ? draftOf(rule) : emptyDraft));
  const [errors, setErrors] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    setSaving(true);
    setErrors([]);
    try {
      const body = bodyOf(draft);
      if (rule) await updateRule(rule.id, body);
      else await createRule(body);
      navigate(client.path("/alerts"));
    } catch (e) {
      setErrors(e instanceof ApiError && Object.keys(e.details).length ? fieldErrors(e.details) : [e instanceof Error ? e.message : "Could not save."]);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form onSubmit={save} className="space-y-4" aria-label={rule ? "Edit alert rule" : "New alert rule"}>
      <h1 className="text-xl font-semibold text-slate-900 [overflow-wrap:anywhere]">{rule ? `Edit “${rule.name}”` : "New alert rule"}</h1>
      {!admin ? <p className="text-sm text-amber-900">Only the client's admins can save alert rules; you can still preview one.</p> : null}
      <Card title="What to watch">
        <div className="grid gap-3 sm:grid-cols-3">
          <Field label="Name">
            <input aria-label="Name" required value={draft.name} onChange={(e) => set({ name: e.target.value })} className={input} />
          </Field>
          <Field label="Kind" help={KINDS.find((k) => k.value === draft.kind)?.help}>
            <select aria-label="Kind" value={draft.kind} onChange={(e) => set({ kind: e.target.value as AlertKind })} className={input}>
              {KINDS.map((k) => (
                <option key={k.value} value={k.value}>
                  {k.label}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Window (minutes)" help="1 minute to 7 days (10080).">
            <input aria-label="Window (minutes)" type="number" min={1} max={10080} value={draft.window_minutes} onChange={(e) => set({ window_minutes: e.target.value })} className={input} />
          </Field>
        </div>
        <div className="mt-3">
          <KindFields draft={draft} set={set} />
        </div>
      </Card>
      <Card title="Only these runs (optional)">
        <div className="grid gap-3 sm:grid-cols-4">
          <Field label="Environment">
            <select aria-label="Environment" value={draft.environment} onChange={(e) => set({ environment: e.target.value })} className={input}>
              <option value="">Any</option>
              {ENVIRONMENTS.map((env) => (
                <option key={env} value={env}>
                  {env}
                </option>
              ))}
            </select>
          </Field>
          {([["category", "Category"], ["workflow_version", "Workflow version"], ["customer_type", "Customer type"]] as const).map(([name, label]) => (
            <Field key={name} label={label}>
              <input aria-label={label} value={draft[name]} onChange={(e) => set({ [name]: e.target.value } as Partial<Draft>)} className={input} />
            </Field>
          ))}
        </div>
      </Card>
      <Card>
        <PreviewLine draft={draft} />
      </Card>
      <Card title="Notifications">
        <ChannelsEditor channels={draft.channels} onChange={(channels) => set({ channels })} />
        <div className="mt-3 max-w-xs">
          <Field label="Remind every (minutes, optional)" help="While it keeps firing.">
            <input aria-label="Remind every (minutes)" type="number" min={1} value={draft.repeat_minutes} onChange={(e) => set({ repeat_minutes: e.target.value })} className={input} />
          </Field>
        </div>
      </Card>
      {errors.length ? (
        <ul role="alert" className="rounded border border-red-200 bg-red-50 px-4 py-2 text-sm text-red-900">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      ) : null}
      <div className="flex gap-3">
        <button type="submit" disabled={saving || !admin} className="rounded bg-indigo-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-800 disabled:opacity-50">
          {saving ? "Saving…" : rule ? "Save changes" : "Create rule"}
        </button>
        <Link to={client.path("/alerts")} className="rounded border border-slate-300 px-3 py-1.5 text-sm">
          Cancel
        </Link>
      </div>
    </form>
  );
}
