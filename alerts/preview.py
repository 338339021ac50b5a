""""This rule would have fired N times in the last 7 days."

The last 7 days are cut into consecutive windows of the rule's length, ending now; the rule's
condition is computed on each (one statement for all of them: logs/tenant_sql/windows.py
stepped_figures), and every window that fires after one that did not counts once. The live
evaluator slides its window every interval, so a short burst that straddles two of these
windows may count where the evaluator would not, or the reverse: the figure is an estimate of
how noisy the rule is, not a replay. `new_error_type` counts the pairs first seen in the 7 days.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from logs.filters import LogFilterSet
from logs.models import ERROR_STATUSES, STATUSES
from logs.tenant_sql import windows
from tenants.models import Client

from alerts.measure import Reader, compare, filter_values
from alerts.models import AlertRule, Kind

DAYS = 7


EMPTY = (None, 0, 0, 0, 0, 0, None, None, 0)


def _value(rule: AlertRule, row: tuple[Any, ...]) -> tuple[float | None, int]:
    """(value, runs it stands on) of one window's figures: (step, count, 4 status counts, p95, avg, n)."""
    _step, count, *rest = row
    by_status = dict(zip(STATUSES, rest[:4]))
    if rule.kind == Kind.NO_DATA:
        return float(count), count
    if rule.kind == Kind.ERROR_RATE:
        return (100 * sum(by_status[s] for s in ERROR_STATUSES) / count if count else None), count
    if rule.kind == Kind.ERROR_COUNT:
        return float(sum(by_status[s] for s in (rule.statuses or ERROR_STATUSES))), count
    if rule.kind == Kind.DURATION_P95:
        return rest[4], count
    return rest[5], rest[6]


def _firing(rule: AlertRule, row: tuple[Any, ...]) -> tuple[bool, float | None]:
    """(fires, value) of one window, as the evaluator decides (alerts/measure.py)."""
    value, runs = _value(rule, row)
    if rule.kind == Kind.NO_DATA:
        return runs == 0, value
    if value is None:
        return False, None
    enough = rule.kind == Kind.ERROR_COUNT or runs >= rule.min_runs
    return enough and compare(value, rule.operator, rule.threshold or 0), value


def rule_preview(rule: AlertRule, *, now: dt.datetime) -> dict[str, Any]:
    """{"fired", "windows", "firing_windows", "last_value", "start", "end"} over the last 7 days."""
    step = rule.window_minutes * 60
    count = math.ceil(DAYS * 86400 / step)
    end = now.replace(microsecond=0)
    start = end - dt.timedelta(seconds=step * count)
    if rule.kind == Kind.NEW_ERROR_TYPE:
        return _new_pairs(rule, start, end, count)
    condition, params = LogFilterSet.condition(filter_values(rule))
    rows = {row[0]: row for row in windows.stepped_figures(
        rule.client, condition=condition, params=params, start=start, end=end, step_seconds=step,
        metric_key=rule.metric if rule.kind == Kind.METRIC_AVG else None)}
    fired = firing_windows = 0
    before = False
    value = None
    for index in range(count):
        firing, value = _firing(rule, rows.get(index, EMPTY))
        firing_windows += firing
        fired += firing and not before
        before = firing
    return {"fired": fired, "windows": count, "firing_windows": firing_windows, "last_value": value,
            "start": start, "end": end}


def _new_pairs(rule: AlertRule, start: dt.datetime, end: dt.datetime, count: int) -> dict[str, Any]:
    reader: Reader = Reader()
    client: Client = rule.client
    new = reader.pairs(client, filter_values(rule), start, end) - reader.seen_before(client, start)
    return {"fired": len(new), "windows": count, "firing_windows": len(new), "last_value": float(len(new)),
            "start": start, "end": end}
