"""What a rule measures over its window, read from the metrics rollup where it has the
dimensions, else through an index-bounded scan of the window (logs/tenant_sql).

Every window is the half-open UTC interval [now - window, now). The kinds:

* `error_rate`: 100 × (FAILED + ERROR) / runs; fires when runs >= min_runs and rate >= threshold;
* `error_count`: runs whose status is one of `statuses` (default FAILED, ERROR), optionally of
  one `error_type` and/or `error_node`; fires when >= threshold;
* `duration_p95`: the 95th percentile of execution_time_seconds (percentile_cont; from the
  rollup's histogram, within 2 %, when the window holds more than METRICS_EXACT_PERCENTILE_LIMIT
  runs); fires when runs >= min_runs and p95 >= threshold;
* `metric_avg`: the average of the numeric `metrics.<metric>` values; fires when at least
  min_runs runs carry the metric and `avg <operator> threshold`;
* `no_data`: the number of runs; fires when it is 0;
* `new_error_type`: (error type, node) pairs whose first run of the tenant's retained history
  is inside the window; fires while there is one, and announces each pair once.

The filters (environment, category, workflow_version, customer_type) narrow every kind. The
rollup answers the status counts and p95 with no filter or one of category / workflow_version
(p95: workflow_version only); anything else scans the window. A `Reader` remembers each read for
the round, so rules over the same scope and window share it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from logs.filters import LogFilterSet
from logs.models import ERROR_STATUSES, STATUSES
from logs.tenant_sql import reads, windows
from metrics import rollup
from tenants.models import Client

from alerts.models import AlertRule, Kind

EXAMPLES = 5
# The tenant's history of error pairs starts here when it keeps its logs forever.
BEGINNING = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
MAX_PAIRS = 1000
Pair = tuple[str, str | None]


@dataclass
class Measurement:
    value: float | None
    firing: bool
    start: dt.datetime
    end: dt.datetime
    detail: dict[str, Any] = field(default_factory=dict)
    new_pairs: list[Pair] = field(default_factory=list)


def compare(value: float, operator: str, threshold: float) -> bool:
    return {"gt": value > threshold, "gte": value >= threshold, "lt": value < threshold,
            "lte": value <= threshold}[operator]


def filter_values(rule: AlertRule, *, with_errors: bool = True) -> dict[str, list[str]]:
    """The rule's narrowing filters as the list filters' parsed values (logs/filters.py)."""
    values = {name: [value] for name, value in (rule.filters or {}).items() if value}
    if with_errors and rule.kind == Kind.ERROR_COUNT:
        if rule.error_type:
            values["workflow_error_type"] = [rule.error_type]
        if rule.error_node:
            values["workflow_error_node"] = [rule.error_node]
    return values


def rollup_group(values: dict[str, list[str]], *, p95: bool) -> tuple[bool, str | None]:
    """(whether the rollup can answer, its group) for these filters."""
    if not rollup.enabled():
        return False, None
    if not values:
        return True, None
    if len(values) == 1 and "workflow_version" in values:
        return True, "workflow_version"
    if len(values) == 1 and "category" in values and not p95:
        return True, "category"
    return False, None


class Reader:
    """The reads of one evaluation round, each done once per (client, scope, window)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], read: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def stats(self, client: Client, values: dict[str, list[str]], start: dt.datetime, end: dt.datetime,
              *, p95: bool) -> dict[str, Any]:
        """{"count", one count per status, "p95"} of the window's runs matching `values`."""
        frozen = tuple(sorted((k, tuple(v)) for k, v in values.items()))
        return self._once(("stats", client.pk, frozen, start, end, p95),
                          lambda: _stats(client, values, start, end, p95=p95))

    def metric(self, client: Client, values: dict[str, list[str]], key: str, start: dt.datetime,
               end: dt.datetime) -> tuple[float | None, int]:
        condition, params = LogFilterSet.condition(values)
        frozen = tuple(sorted((k, tuple(v)) for k, v in values.items()))
        return self._once(("metric", client.pk, frozen, key, start, end), lambda: windows.metric_average(
            client, key=key, condition=condition, params=params, start=start, end=end))

    def pairs(self, client: Client, values: dict[str, list[str]], start: dt.datetime,
              end: dt.datetime) -> set[Pair]:
        """The (error type, node) pairs with a type among the failing runs in the window."""
        frozen = tuple(sorted((k, tuple(v)) for k, v in values.items()))
        return self._once(("pairs", client.pk, frozen, start, end), lambda: _pairs(client, values, start, end))

    def seen_before(self, client: Client, before: dt.datetime) -> set[Pair]:
        """Every pair of the tenant's retained history before `before` (from the rollup)."""
        days = client.effective_retention_days
        since = BEGINNING
        if days:
            since = max(BEGINNING, (before - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0,
                                                                               microsecond=0))
        return self._once(("history", client.pk, before), lambda: {
            (g["workflow_error_type"], g["workflow_error_node"])
            for g in rollup.error_groups(client, start=since, end=before) if g["workflow_error_type"]})


def _stats(client: Client, values: dict[str, list[str]], start: dt.datetime, end: dt.datetime, *,
           p95: bool) -> dict[str, Any]:
    fractions = (0.95,) if p95 else ()
    usable, group = rollup_group(values, p95=p95)
    if usable:
        groups = rollup.group_stats(client, start=start, end=end, group=group, fractions=fractions)
        figures = groups.get(values[group][0] if group else None)
        if figures is None:
            return {"count": 0, **dict.fromkeys(STATUSES, 0), "p95": None}
        return {"count": figures["count"], **{s: figures[s] for s in STATUSES},
                "p95": figures["percentiles"].get(0.95) if p95 and figures["count"] else None}
    condition, params = LogFilterSet.condition(values)
    (row,) = reads.scan_stats(client, condition=condition, params=params, start=start, end=end, group=None,
                              fractions=fractions)
    _key, count, *by_status = row[:6]
    return {"count": count, **dict(zip(STATUSES, by_status)), "p95": row[9] if p95 else None}


def _pairs(client: Client, values: dict[str, list[str]], start: dt.datetime, end: dt.datetime) -> set[Pair]:
    if not values and rollup.enabled():
        groups = rollup.error_groups(client, start=start, end=end)
        return {(g["workflow_error_type"], g["workflow_error_node"]) for g in groups if g["workflow_error_type"]}
    condition, params = LogFilterSet.condition(values)
    rows = reads.scan_error_groups(client, condition=condition, params=params, start=start, end=end,
                                   limit=MAX_PAIRS)
    return {(t, n) for t, n, _count, _latest in rows if t}


def _metric_avg(rule: AlertRule, start: dt.datetime, end: dt.datetime, reader: Reader) -> Measurement:
    average, count = reader.metric(rule.client, filter_values(rule), rule.metric or "", start, end)
    firing = average is not None and count >= rule.min_runs and compare(average, rule.operator, rule.threshold or 0)
    return Measurement(average, firing, start, end, {"runs": count})


def _new_error_type(rule: AlertRule, start: dt.datetime, end: dt.datetime, reader: Reader) -> Measurement:
    new = sorted(reader.pairs(rule.client, filter_values(rule), start, end) - reader.seen_before(rule.client, start),
                 key=lambda p: (p[0], p[1] or ""))
    return Measurement(float(len(new)), bool(new), start, end, {"pairs": [list(p) for p in new]}, new)


def _from_stats(rule: AlertRule, start: dt.datetime, end: dt.datetime, reader: Reader) -> Measurement:
    """error_rate, error_count, duration_p95 and no_data: from the window's status counts (and p95)."""
    stats = reader.stats(rule.client, filter_values(rule), start, end, p95=rule.kind == Kind.DURATION_P95)
    runs, threshold = stats["count"], rule.threshold or 0
    if rule.kind == Kind.NO_DATA:
        return Measurement(float(runs), runs == 0, start, end, {"runs": runs})
    if rule.kind == Kind.ERROR_RATE:
        failed = sum(stats[s] for s in ERROR_STATUSES)
        rate = round(100 * failed / runs, 2) if runs else None
        firing = rate is not None and runs >= rule.min_runs and rate >= threshold
        return Measurement(rate, firing, start, end, {"runs": runs, "errors": failed})
    if rule.kind == Kind.ERROR_COUNT:
        count = sum(stats[s] for s in (rule.statuses or ERROR_STATUSES))
        return Measurement(float(count), count >= threshold, start, end, {"runs": runs})
    p95 = stats["p95"]
    firing = p95 is not None and runs >= rule.min_runs and p95 >= threshold
    return Measurement(round(p95, 3) if p95 is not None else None, firing, start, end, {"runs": runs})


def measure(rule: AlertRule, now: dt.datetime, reader: Reader) -> Measurement:
    """The rule's value over [now - window, now) and whether it fires."""
    start = now - dt.timedelta(minutes=rule.window_minutes)
    how = {Kind.METRIC_AVG: _metric_avg, Kind.NEW_ERROR_TYPE: _new_error_type}.get(rule.kind, _from_stats)
    return how(rule, start, now, reader)


def examples(rule: AlertRule, m: Measurement, pair: Pair | None = None) -> list[str]:
    """A few ids of the window's runs that made the rule fire, newest first (slowest first for
    duration_p95; the new pair's runs for new_error_type)."""
    if rule.kind == Kind.NO_DATA:
        return []
    values = filter_values(rule)
    if rule.kind == Kind.ERROR_RATE:
        values["status"] = list(ERROR_STATUSES)
    elif rule.kind == Kind.ERROR_COUNT:
        values["status"] = list(rule.statuses or ERROR_STATUSES)
    condition, params = LogFilterSet.condition(values)
    return windows.example_ids(
        rule.client, condition=condition, params=params, start=m.start, end=m.end, limit=EXAMPLES,
        slowest=rule.kind == Kind.DURATION_P95, metric_key=rule.metric if rule.kind == Kind.METRIC_AVG else None,
        error_pair=pair if rule.kind == Kind.NEW_ERROR_TYPE else None)
