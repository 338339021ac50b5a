"""Tokens and cost: sums of the usage metrics a client's logs carry, per day, hour, category or
workflow version.

Which metrics: the numeric keys of `metrics` whose name contains "token" or "cost" (any case:
`total_tokens`, `prompt_tokens`, `cost_usd`, …; at most 10 per log), the MAX_KEYS carried by
most runs of the period. Logs that do not carry a key add nothing to its sum; `runs_with` says
how many did. The sums are exact. Without filters they come from the rollup's kinds U (per
category) and Y (per version), migration 0012: a few thousand rows whatever the period; with a
filter the rollup has no dimension for (environment, …), from a scan of the period's logs,
whose keys are those of its newest KEY_SAMPLE logs.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from logs.periods import UTC, Period
from logs.tenant_sql import metric_stats
from metrics import rollup
from metrics.selectors import Scope, timeseries_buckets

USAGE_PATTERN = "token|cost"
KEY_SAMPLE = 2000
MAX_KEYS = 10
GROUPS = ("day", "hour", "category", "workflow_version")


def _key(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, dt.datetime) else value


def _from_rollup(scope: Scope, period: Period, group: str) -> tuple[list[str], dict[Any, tuple[Any, ...]]]:
    """The usage keys and, per group value, (runs, then per key: runs carrying it, its sum), from
    the rollup's kinds U / Y: the shape of the scan's rows."""
    cells = rollup.usage_groups(scope.client, start=period.start, end=period.end, group=group)
    carried: dict[str, int] = {}
    for (_value, key), figures in cells.items():
        if key is not None:
            carried[key] = carried.get(key, 0) + figures["runs"]
    keys = sorted(sorted(carried, key=lambda k: -carried[k])[:MAX_KEYS])
    rows: dict[Any, tuple[Any, ...]] = {}
    for value in {value for value, _key in cells}:
        runs = cells.get((value, None), {"runs": 0})["runs"]
        per_key = [cells.get((value, key)) for key in keys]
        rows[_key(value)] = (runs, *(x for c in per_key for x in ((c["runs"], c["sum"]) if c else (0, None))))
    return keys, rows


def _from_scan(scope: Scope, period: Period, group: str) -> tuple[list[str], dict[Any, tuple[Any, ...]]]:
    where, params = scope.where
    keys = metric_stats.usage_keys(scope.client, start=period.start, end=period.end, condition=where, params=params,
                                   pattern=USAGE_PATTERN, sample=KEY_SAMPLE, limit=MAX_KEYS)
    rows = {} if not keys else {
        _key(row[0]): row[1:] for row in metric_stats.usage_sums(
            scope.client, keys=keys, group=group, start=period.start, end=period.end, condition=where, params=params)}
    return keys, rows


def metrics_usage(scope: Scope, *, period: Period, group: str) -> dict[str, Any]:
    """Per group value (every bucket of the period for day/hour, in order; else the groups found,
    most runs first): runs, and per usage key the runs carrying it, its sum and its mean over
    those runs. `keys`: the usage keys found (empty: the logs carry no tokens or cost)."""
    keys, rows = (_from_rollup if scope.rollup else _from_scan)(scope, period, group)
    if not keys:
        rows = {}
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
    return {"keys": keys, "group": group, "data": data, "totals": totals, **period.fields()}
