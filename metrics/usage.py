"""Tokens and cost: GET /api/v1/metrics/usage, one answer for both dashboards.

* The period's totals and the previous period's (the overview's cards): the runs that carry
  `metrics.total_tokens` (OpenTelemetry's runs, and any log that names its usage the same way),
  their input, output and total tokens and `metrics.cost`. Without filters from the usage
  rollup (`_rollup_totals`: each of input/output tokens and cost summed over the logs carrying
  it, which for OpenTelemetry's runs are the same logs); with filters read through the partial
  index of the runs carrying `total_tokens` (logs migration 0012).
* With `group` (the latency-and-cost page): per day, hour, category or workflow version, the
  sums of every numeric usage metric (below).

Which metrics: the numeric keys of `metrics` whose name contains "token" or "cost" (any case:
`total_tokens`, `prompt_tokens`, `cost_usd`, …; keys of at most 64 characters; in the rollup at
most 10 of a log, shortest names first: `logs_usage_of()`, logs migration 0018), at most MAX_KEYS
of them, by name. Logs
that do not carry a key add nothing to its sum; `runs_with` says how many did. The sums are
exact (`numeric`). Without filters they come from the usage rollup (migration 0018: a few
thousand rows whatever the period, kept exact by signed deltas as OpenTelemetry rewrites a
run's tokens) and the metrics rollup's counts of runs; the keys are those of the whole period.
With a filter neither rollup has a dimension for, from a scan of the period's logs, whose keys
are those of its newest KEY_SAMPLE logs (see README, Dashboard).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from logs.periods import UTC, Period
from logs.tenant_sql import metric_stats, usage_rollup
from metrics import rollup
from metrics.selectors import Scope, timeseries_buckets

KEY_SAMPLE = 2000
MAX_KEYS = 10
GROUPS = ("day", "hour", "category", "workflow_version")


def _key(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, dt.datetime) else value


def _rollup_totals(scope: Scope, start: dt.datetime, end: dt.datetime) -> tuple[Any, ...]:
    """`metric_stats.usage_totals`' figures from the usage rollup: the runs carrying
    `total_tokens` as a number, and the sums of `input_tokens`, `output_tokens` and `cost` over
    the logs carrying each (OpenTelemetry's runs carry all four; the scan sums them over the logs
    with `total_tokens` only), with how many carry a `cost`."""
    bounds = rollup.period_params(start, end, use_days=True, open_end=False)
    sums = {key: (n, total) for _group, key, n, total in
            usage_rollup.usage_sums(scope.client, group="period", period=bounds) if n > 0}
    none = (0, 0)
    return (sums.get("total_tokens", none)[0], sums.get("input_tokens", none)[1], sums.get("output_tokens", none)[1],
            sums.get("cost", none)[1], sums.get("cost", none)[0])


def _totals(scope: Scope, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    if scope.rollup:
        runs, input_tokens, output_tokens, cost, priced = _rollup_totals(scope, start, end)
    else:
        runs, input_tokens, output_tokens, cost, priced = metric_stats.usage_totals(
            scope.client, condition=scope.where[0], params=scope.where[1], start=start, end=end)
    return {"runs": runs, "input_tokens": int(input_tokens), "output_tokens": int(output_tokens),
            "total_tokens": int(input_tokens + output_tokens),
            "cost": round(float(cost), 6) if priced else None, "period_start": start, "period_end": end}


def metrics_usage(scope: Scope, *, period: Period, group: str | None) -> dict[str, Any]:
    """The totals of the period with the previous period's (`cost` is null when no run has
    one); with `group`, the breakdown as well (`breakdown`)."""
    answer = {**_totals(scope, period.start, period.end), "period_days": period.days,
              "previous": _totals(scope, period.previous_start, period.previous_end)}
    if group is not None:
        answer.update(breakdown(scope, period=period, group=group))
    return answer


def _from_scan(scope: Scope, period: Period, group: str) -> tuple[list[str], dict[Any, tuple[Any, ...]]]:
    """The usage keys and, per group value, (runs, then per key: runs carrying it, its sum)."""
    where, params = scope.where
    keys = metric_stats.usage_keys(scope.client, start=period.start, end=period.end, condition=where, params=params,
                                   sample=KEY_SAMPLE, limit=MAX_KEYS)
    rows = {} if not keys else {
        _key(row[0]): row[1:] for row in metric_stats.usage_sums(
            scope.client, keys=keys, group=group, start=period.start, end=period.end, condition=where, params=params)}
    return keys, rows


_RUN_GROUPS = {"day": "bucket:day", "hour": "bucket:hour", "category": "category",
               "workflow_version": "workflow_version"}


def _from_rollup(scope: Scope, period: Period, group: str) -> tuple[list[str], dict[Any, tuple[Any, ...]]]:
    """The same as `_from_scan`, from the usage rollup (the sums) and the metrics rollup (the
    runs of each group, those without usage included)."""
    bounds = rollup.period_params(period.start, period.end, use_days=group != "hour", open_end=False)
    cells: dict[Any, dict[str, tuple[int, Any]]] = {}
    carried: dict[str, int] = {}
    for value, key, n, total in usage_rollup.usage_sums(scope.client, group=group, period=bounds):
        if n > 0:
            cells.setdefault(_key(value), {})[key] = (n, total)
            carried[key] = carried.get(key, 0) + n
    keys = sorted(carried)[:MAX_KEYS]
    if not keys:
        return keys, {}
    runs = rollup.group_stats(scope.client, start=period.start, end=period.end, group=_RUN_GROUPS[group])
    rows: dict[Any, tuple[Any, ...]] = {}
    for value, stats in runs.items():
        per_key = cells.get(_key(value), {})
        rows[_key(value)] = (stats["count"], *(x for k in keys for x in per_key.get(k, (0, None))))
    return keys, rows


def breakdown(scope: Scope, *, period: Period, group: str) -> dict[str, Any]:
    """Per group value (every bucket of the period for day/hour, in order; else the groups found,
    most runs first): runs, and per usage key the runs carrying it, its sum and its mean over
    those runs. `keys`: the usage keys found (empty: the logs carry no tokens or cost)."""
    keys, rows = (_from_rollup if scope.rollup else _from_scan)(scope, period, group)
    order = (timeseries_buckets(period.start, period.end, group) if group in ("day", "hour")
             else sorted(rows, key=lambda k: (-rows[k][0], k is None, k or "")))
    data = []
    for value in order:
        runs, *figures = rows.get(value) or (0, *([0, None] * len(keys)))
        per_key = {}
        for index, key in enumerate(keys):
            carried, total = figures[2 * index], figures[2 * index + 1]
            total = float(total) if total is not None else None  # numeric sums arrive as Decimal
            per_key[key] = {"runs_with": carried, "sum": round(total, 6) if total is not None else 0.0,
                            "mean": round(total / carried, 6) if carried else None}
        data.append({"group": value.isoformat().replace("+00:00", "Z") if isinstance(value, dt.datetime) else value,
                     "runs": runs, "usage": per_key})
    totals = {key: round(sum(row["usage"][key]["sum"] for row in data), 6) for key in keys}
    return {"keys": keys, "group": group, "data": data, "totals": totals}
