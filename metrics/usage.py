"""Tokens and cost: GET /api/v1/metrics/usage, one answer for both dashboards.

* The period's totals and the previous period's (the overview's cards): the runs that carry
  `metrics.total_tokens` (OpenTelemetry's runs, and any log that names its usage the same way),
  their input, output and total tokens and `metrics.cost`. Read through the partial index of
  those runs (logs migration 0012): their cost follows those runs, not all logs.
* With `group` (the latency-and-cost page): per day, hour, category or workflow version, the
  sums of every numeric usage metric (below).

Which metrics: the numeric keys of `metrics` whose name contains "token" or "cost" (any case:
`total_tokens`, `prompt_tokens`, `cost_usd`, …) among the newest KEY_SAMPLE logs of the period;
at most MAX_KEYS of them. Logs that do not carry a key add nothing to its sum; `runs_with` says how
many did. The sums are exact: a scan of the period's logs (the rollup has no free-form metrics),
so this answer costs in proportion to the logs of the period (see README, Dashboard).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from logs.periods import UTC, Period
from logs.tenant_sql import metric_stats
from metrics.selectors import Scope, timeseries_buckets

USAGE_PATTERN = "token|cost"
KEY_SAMPLE = 2000
MAX_KEYS = 10
GROUPS = ("day", "hour", "category", "workflow_version")


def _key(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, dt.datetime) else value


def _totals(scope: Scope, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    runs, input_tokens, output_tokens, cost, priced = metric_stats.usage_totals(
        scope.client, condition=scope.where[0], params=scope.where[1], start=start, end=end)
    return {"runs": runs, "input_tokens": int(input_tokens), "output_tokens": int(output_tokens),
            "total_tokens": int(input_tokens + output_tokens),
            "cost": round(float(cost), 6) if priced else None, "period_start": start, "period_end": end}


def metrics_usage(scope: Scope, *, period: Period, group: str | None) -> dict[str, Any]:
    """The totals of the period with the previous period's (`cost` is null when no run has
    one); with `group`, the breakdown as well (`_breakdown`)."""
    answer = {**_totals(scope, period.start, period.end), "period_days": period.days,
              "previous": _totals(scope, period.previous_start, period.previous_end)}
    if group is not None:
        answer.update(_breakdown(scope, period=period, group=group))
    return answer


def _breakdown(scope: Scope, *, period: Period, group: str) -> dict[str, Any]:
    """Per group value (every bucket of the period for day/hour, in order; else the groups found,
    most runs first): runs, and per usage key the runs carrying it, its sum and its mean over
    those runs. `keys`: the usage keys found (empty: the logs carry no tokens or cost)."""
    where, params = scope.where
    keys = metric_stats.usage_keys(scope.client, start=period.start, end=period.end, condition=where, params=params,
                                   pattern=USAGE_PATTERN, sample=KEY_SAMPLE, limit=MAX_KEYS)
    rows = {} if not keys else {
        _key(row[0]): row[1:] for row in metric_stats.usage_sums(
            scope.client, keys=keys, group=group, start=period.start, end=period.end, condition=where, params=params)}
    order = (timeseries_buckets(period.start, period.end, group) if group in ("day", "hour")
             else sorted(rows, key=lambda k: (-rows[k][0], k is None, k or "")))
    data = []
    for value in order:
        runs, *figures = rows.get(value) or (0, *([0, None] * len(keys)))
        per_key = {}
        for index, key in enumerate(keys):
            carried, total = figures[2 * index], figures[2 * index + 1]
            per_key[key] = {"runs_with": carried, "sum": round(total, 6) if total is not None else 0.0,
                            "mean": round(total / carried, 6) if carried else None}
        data.append({"group": value.isoformat().replace("+00:00", "Z") if isinstance(value, dt.datetime) else value,
                     "runs": runs, "usage": per_key})
    totals = {key: round(sum(row["usage"][key]["sum"] for row in data), 6) for key in keys}
    return {"keys": keys, "group": group, "data": data, "totals": totals}
