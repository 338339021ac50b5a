// The Alerts page: the client's rules (state, last value, last event; test, snooze, edit,
// delete for admins) and the history of their events. Refreshed every 30 s while visible.
import { useState } from "react";
import { Link } from "react-router-dom";
import { Card, EmptyState, ErrorState, Spinner, errorMessage } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { useLoader, usePolling } from "../lib/hooks";
import { useClient } from "../client";
import { useCanAdminister } from "./access";
import { deleteRule, listRules, testRule, updateRule, type AlertRule, type AlertTestResult } from "./api";
import { describeRule, formatAlertValue, isSnoozed, kindLabel } from "./describe";
import { EventHistory } from "./EventHistory";

const POLL_MS = 30_000;
const SNOOZES = [
  { label: "1 hour", hours: 1 },
  { label: "8 hours", hours: 8 },
  { label: "1 day", hours: 24 },
  { label: "1 week", hours: 168 },
];

export function StateBadge({ rule }: { rule: AlertRule }) {
  const snoozed = isSnoozed(rule);
  const style = rule.state === "firing" ? "bg-red-100 text-red-900 ring-red-300" : "bg-emerald-100 text-emerald-900 ring-emerald-300";
  return (
    <span className="inline-flex flex-wrap items-center gap-1">
      <span data-testid="rule-state" className={`rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${style}`}>
        {rule.state}
      </span>
      {snoozed ? (
        <span className="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-800 ring-1 ring-inset ring-slate-300" title={`until ${formatDateTime(rule.snoozed_until)}`}>
          snoozed
        </span>
      ) : null}
    </span>
  );
}

function TestResults({ result }: { result: AlertTestResult }) {
  return (
    <ul data-testid="test-results" className="mt-1 space-y-0.5 text-xs">
      {result.results.map((r, i) => (
        <li key={i} className={r.ok ? "text-emerald-800" : "text-red-800"}>
          {r.ok ? "✓" : "✗"} {r.type} → {r.target}
          {r.status_code ? ` (HTTP ${r.status_code})` : ""}
          {r.error ? `: ${r.error}` : ""}
        </li>
      ))}
    </ul>
  );
}

function RuleActions({ rule, onChanged }: { rule: AlertRule; onChanged: () => void }) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<AlertTestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      onChanged();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const snooze = (hours: number) =>
    run(() => updateRule(rule.id, { snoozed_until: new Date(Date.now() + hours * 3600_000).toISOString() }));
  return (
    <div className="flex flex-col gap-1">
      <div className="flex flex-wrap items-center gap-1.5">
        <button type="button" disabled={busy} onClick={() => run(async () => setResult(await testRule(rule.id)))} className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100">
          Test
        </button>
        {isSnoozed(rule) ? (
          <button type="button" disabled={busy} onClick={() => run(() => updateRule(rule.id, { snoozed_until: null }))} className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100">
            Wake
          </button>
        ) : (
          <select
            aria-label={`Snooze ${rule.name}`}
            disabled={busy}
            value=""
            onChange={(e) => e.target.value && snooze(Number(e.target.value))}
            className="rounded border border-slate-300 bg-white px-1 py-0.5 text-xs"
          >
            <option value="">Snooze…</option>
            {SNOOZES.map((s) => (
              <option key={s.hours} value={s.hours}>
                {s.label}
              </option>
            ))}
          </select>
        )}
        <Link to={client.path(`/alerts/${rule.id}/edit`)} className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100">
          Edit
        </Link>
        <button
          type="button"
          disabled={busy}
          onClick={() => window.confirm(`Delete the rule "${rule.name}"? Its events stay in the history.`) && run(() => deleteRule(rule.id))}
          className="rounded border border-red-300 px-2 py-0.5 text-xs text-red-800 hover:bg-red-50"
        >
          Delete
        </button>
      </div>
      {result ? <TestResults result={result} /> : null}
      {error ? <p role="alert" className="text-xs text-red-800">{error}</p> : null}
    </div>
  );
}

export function AlertsPage() {
  const client = useClient();
  const clientKey = client.slug;
  const admin = useCanAdminister();
  const rules = useLoader(`rules:${clientKey}`, () => listRules());
  const [historyKey, setHistoryKey] = useState(0);
  const refresh = () => {
    rules.reload();
    setHistoryKey((k) => k + 1);
  };
  usePolling(refresh, POLL_MS);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-xl font-semibold text-slate-900">Alerts</h1>
        {admin ? (
          <Link to={client.path("/alerts/new")} className="rounded bg-indigo-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-800">
            New rule
          </Link>
        ) : (
          <p className="text-sm text-slate-600">Only the client's admins can change alert rules.</p>
        )}
      </div>
      <Card title="Rules">
        {rules.error ? (
          <ErrorState error={rules.error} onRetry={rules.reload} />
        ) : !rules.data ? (
          <Spinner />
        ) : rules.data.length === 0 ? (
          <EmptyState title="No alert rules yet.">Create one to be told when runs fail, slow down, go quiet or lose quality.</EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table data-testid="rules-table" className="min-w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-xs uppercase text-slate-600">
                <tr>
                  <th className="py-2 pr-3">Rule</th>
                  <th className="py-2 pr-3">State</th>
                  <th className="py-2 pr-3">Last value</th>
                  <th className="hidden py-2 pr-3 md:table-cell">Last event</th>
                  {admin ? <th className="py-2">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {rules.data.map((rule) => (
                  <tr key={rule.id} data-testid="rule-row" className="border-b border-slate-100 align-top">
                    <td className="py-2 pr-3">
                      <div className="font-medium text-slate-900 [overflow-wrap:anywhere]">{rule.name}</div>
                      <div className="text-xs text-slate-600">
                        {kindLabel(rule.kind)}: {describeRule(rule)}
                      </div>
                    </td>
                    <td className="py-2 pr-3">
                      <StateBadge rule={rule} />
                    </td>
                    <td className="py-2 pr-3 tabular-nums" data-testid="rule-last-value">
                      {formatAlertValue(rule.kind, rule.last_value)}
                      <div className="text-xs text-slate-600">{rule.last_evaluated_at ? `at ${formatDateTime(rule.last_evaluated_at)}` : "not evaluated yet"}</div>
                    </td>
                    <td className="hidden py-2 pr-3 text-xs text-slate-700 md:table-cell">
                      {rule.last_event ? `${rule.last_event.state} · ${formatDateTime(rule.last_event.created_at)} · ${rule.last_event.delivery_status}` : "—"}
                    </td>
                    {admin ? (
                      <td className="py-2">
                        <RuleActions rule={rule} onChanged={refresh} />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <EventHistory rules={rules.data ?? []} refreshKey={historyKey} />
    </div>
  );
}
