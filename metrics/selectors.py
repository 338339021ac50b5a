"""The dashboard's metrics of one tenant: overview, categories, timeseries, errors, versions.

Metric definitions (pinned by metrics/tests/test_metrics.py with hand-computed numbers):
* a log belongs to a period when `period.start <= executed_at < period.end` (UTC);
* `success_rate` = 100 × SUCCESS / all logs, rounded to one decimal (0 when there are none);
* `error_count` = FAILED + ERROR (PARTIAL is neither a success nor an error);
* `avg_execution_time` = mean of the non-null `execution_time_seconds`, 3 decimals;
* `p50`/`p95` = the continuous percentile of the non-null execution times with linear
  interpolation between the closest ranks (PostgreSQL's `percentile_cont`); 3 decimals;
* every figure of an empty set is 0, never null.

Unfiltered metrics read the rollup (metrics/rollup.py): the same figures, except p50/p95 of
answers over more than METRICS_EXACT_PERCENTILE_LIMIT logs, which come from its histogram
within 2 %. A filter the rollup has no dimension for (environment, category, workflow_version)
makes the request aggregate the tenant's filtered logs instead (logs/tenant_sql/reads.py).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypedDict


from logs.filters import Condition
from logs.models import ERROR_STATUSES, STATUSES, SUMMARY_FIELDS
from logs.periods import UTC, Period
from logs.tenant_sql import reads
from metrics import rollup
from tenants.models import Client

MAX_ERROR_MESSAGE = 1000
EXAMPLE_FIELDS = ("id", "executed_at", "workflow_error", "workflow_error_type", "workflow_error_node", "status")
assert set(EXAMPLE_FIELDS) <= set(SUMMARY_FIELDS)


@dataclass(frozen=True)
class Scope:
    """Whose logs a metrics request covers: the client, and the narrowing filters' condition
    ("" when none: then the rollup answers) with the parsed filters it was built from (those
    sent only: {name: value})."""

    client: Client
    where: Condition
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def rollup(self) -> bool:
        return not self.where[0] and rollup.enabled()


class Stats(TypedDict):
    count: int
    SUCCESS: int
    PARTIAL: int
    FAILED: int
    ERROR: int
    avg: float | None
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    percentiles: dict[float, float]


def _empty_stats() -> Stats:
    return Stats(count=0, SUCCESS=0, PARTIAL=0, FAILED=0, ERROR=0, avg=None, first_seen=None,
                 last_seen=None, percentiles={})


def _scan(scope: Scope, start: dt.datetime, end: dt.datetime, group: str | None,
          fractions: tuple[float, ...]) -> dict[Any, Stats]:
    rows = reads.scan_stats(scope.client, condition=scope.where[0], params=scope.where[1], start=start, end=end,
                            group=group, fractions=fractions)
    out: dict[Any, Stats] = {}
    for key, count, success, partial, failed, error, avg, first, last, *percentiles in rows:
        if isinstance(key, dt.datetime):
            key = key.astimezone(UTC)
        out[key] = Stats(count=count, SUCCESS=success, PARTIAL=partial, FAILED=failed, ERROR=error, avg=avg,
                         first_seen=first, last_seen=last,
                         percentiles={f: value or 0.0 for f, value in zip(fractions, percentiles)})
    return out


def _stats(scope: Scope, start: dt.datetime, end: dt.datetime, *, group: str | None,
           fractions: tuple[float, ...] = ()) -> dict[Any, Stats]:
    """Figures of the logs in [start, end) per group (None: the whole set; "category",
    "workflow_version", "bucket:day" / "bucket:hour"): from the rollup, or by a scan."""
    if scope.rollup:
        return {key: Stats(**figures) for key, figures in rollup.group_stats(
            scope.client, start=start, end=end, group=group, fractions=fractions).items()}
    return _scan(scope, start, end, group, fractions)


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _seconds(value: float | None) -> float:
    return round(value, 3) if value is not None else 0.0


def _period_figures(scope: Scope, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    stats = _stats(scope, start, end, group=None, fractions=(0.5, 0.95)).get(None) or _empty_stats()
    total = stats["count"]
    return {
        "total_tickets": total,
        "success_rate": _rate(stats["SUCCESS"], total),
        "avg_execution_time": _seconds(stats["avg"]),
        "error_count": stats["FAILED"] + stats["ERROR"],
        "status_counts": {status: stats[status] for status in STATUSES},  # type: ignore[literal-required]
        "p50_execution_time": _seconds(stats["percentiles"].get(0.5)),
        "p95_execution_time": _seconds(stats["percentiles"].get(0.95)),
        "period_start": start,
        "period_end": end,
    }


def metrics_overview(scope: Scope, *, period: Period) -> dict[str, Any]:
    """The seed's overview (`total_tickets`, `success_rate`, `avg_execution_time`, `error_count`,
    `period_days`) plus `status_counts`, p50/p95 execution time, and `previous`: the same figures
    for the period of the same length just before."""
    current = _period_figures(scope, period.start, period.end)
    previous = _period_figures(scope, period.previous_start, period.previous_end)
    return {**current, "period_days": period.days, "previous": previous}


def metrics_categories(scope: Scope, *, period: Period) -> dict[str, Any]:
    """Per `category` (null = logs without one): count, success_count, success_rate, error_count,
    avg_execution_time; sorted by count descending, then category (null last)."""
    stats = _stats(scope, period.start, period.end, group="category")
    rows = [
        {"category": category, "count": s["count"], "success_count": s["SUCCESS"],
         "success_rate": _rate(s["SUCCESS"], s["count"]), "error_count": s["FAILED"] + s["ERROR"],
         "avg_execution_time": _seconds(s["avg"])}
        for category, s in stats.items()
    ]
    rows.sort(key=lambda r: (-r["count"], r["category"] is None, r["category"] or ""))
    return {"data": rows, **period.fields()}


def timeseries_buckets(start: dt.datetime, end: dt.datetime, interval: str) -> list[dt.datetime]:
    """Every bucket start (UTC hour or day) that overlaps [start, end)."""
    step = dt.timedelta(hours=1) if interval == "hour" else dt.timedelta(days=1)
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if interval == "day":
        first = first.replace(hour=0)
    buckets = []
    bucket = first
    while bucket < end:
        buckets.append(bucket)
        bucket += step
    return buckets


def metrics_timeseries(scope: Scope, *, period: Period, interval: str) -> dict[str, Any]:
    """Per UTC hour or day bucket of the period (every bucket present, empty ones all zeros):
    count, success_count, success_rate, error_count, avg, p50 and p95 execution time."""
    stats = _stats(scope, period.start, period.end, group=f"bucket:{interval}", fractions=(0.5, 0.95))
    rows = []
    for bucket in timeseries_buckets(period.start, period.end, interval):
        s = stats.get(bucket) or _empty_stats()
        rows.append({
            "bucket": bucket, "count": s["count"], "success_count": s["SUCCESS"],
            "success_rate": _rate(s["SUCCESS"], s["count"]), "error_count": s["FAILED"] + s["ERROR"],
            "avg_execution_time": _seconds(s["avg"]),
            "p50_execution_time": _seconds(s["percentiles"].get(0.5)),
            "p95_execution_time": _seconds(s["percentiles"].get(0.95)),
        })
    return {"data": rows, "interval": interval, **period.fields()}


def _error_groups(scope: Scope, period: Period, limit: int) -> list[dict[str, Any]]:
    if scope.rollup:
        return sorted(
            rollup.error_groups(scope.client, start=period.start, end=period.end),
            key=lambda g: (-g["count"], -g["latest"].timestamp(),
                           g["workflow_error_type"] is not None, g["workflow_error_type"] or "",
                           g["workflow_error_node"] is not None, g["workflow_error_node"] or ""),
        )[:limit]
    rows = reads.scan_error_groups(scope.client, condition=scope.where[0], params=scope.where[1],
                                   start=period.start, end=period.end, limit=limit)
    return [{"workflow_error_type": t, "workflow_error_node": n, "count": c, "latest": latest}
            for t, n, c, latest in rows]


def _latest_examples(scope: Scope, groups: list[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Each group's latest failing log, in one read: the logs at the groups' latest timestamps
    (an index probe each; they lie in the period), matched to their group here. One array
    literal of ISO instants: quoting a list of datetimes one by one cost ~0.4 ms for 37 groups;
    ISO timestamps hold no character that needs quoting in an array literal."""
    latest = {(g["workflow_error_type"], g["workflow_error_node"]): g["latest"] for g in groups}
    instants = "{" + ",".join(instant.isoformat() for instant in {g["latest"] for g in groups}) + "}"
    condition = " AND ".join(filter(None, ["executed_at = ANY(%s::timestamptz[])", scope.where[0]]))
    candidates, _ = reads.page(scope.client, condition=condition, params=[instants, *scope.where[1]],
                               order_by="executed_at DESC, id DESC", columns=EXAMPLE_FIELDS)
    examples: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in candidates:
        pair = (row["workflow_error_type"], row["workflow_error_node"])
        failing = row["workflow_error_type"] is not None or row["status"] in ERROR_STATUSES
        if failing and latest.get(pair) == row["executed_at"]:
            examples.setdefault(pair, row)
    return examples


def metrics_errors(scope: Scope, *, period: Period, limit: int) -> dict[str, Any]:
    """The most common (`workflow_error_type`, `workflow_error_node`) pairs among logs that have
    an error type or status FAILED/ERROR; null type/node form their own groups. Each with its
    count and the latest log (id, executed_at, first 1,000 characters of workflow_error).
    Sorted by count desc, then latest first; at most `limit` groups."""
    groups = _error_groups(scope, period, limit)
    if not groups:
        return {"data": [], **period.fields()}
    examples = _latest_examples(scope, groups)
    data = []
    for g in groups:
        example = examples[(g["workflow_error_type"], g["workflow_error_node"])]
        message = example["workflow_error"]
        data.append({
            "workflow_error_type": g["workflow_error_type"], "workflow_error_node": g["workflow_error_node"],
            "count": g["count"], "latest_log_id": example["id"], "latest_executed_at": example["executed_at"],
            "latest_message": message[:MAX_ERROR_MESSAGE] if message is not None else None,
        })
    return {"data": data, **period.fields()}


def version_row(version: str | None, s: Stats) -> dict[str, Any]:
    """One version's figures (metrics_versions)."""
    errors = s["FAILED"] + s["ERROR"]
    return {"workflow_version": version, "count": s["count"], "success_count": s["SUCCESS"],
            "success_rate": _rate(s["SUCCESS"], s["count"]), "error_count": errors,
            "error_rate": _rate(errors, s["count"]), "avg_execution_time": _seconds(s["avg"]),
            "p50_execution_time": _seconds(s["percentiles"].get(0.5)),
            "p95_execution_time": _seconds(s["percentiles"].get(0.95)),
            "first_seen": s["first_seen"], "last_seen": s["last_seen"]}


def version_stats(scope: Scope, period: Period) -> dict[Any, Stats]:
    return _stats(scope, period.start, period.end, group="workflow_version", fractions=(0.5, 0.95))


def metrics_versions(scope: Scope, *, period: Period) -> dict[str, Any]:
    """Per `workflow_version` (null = unversioned logs): count, success_count, success_rate,
    error_count, error_rate (100 × FAILED+ERROR / all, one decimal), avg, p50 and p95 execution
    time, first/last executed_at within the period; newest version (last_seen) first, so a
    version and the one before it are adjacent rows."""
    rows = [version_row(version, s) for version, s in version_stats(scope, period).items()]
    rows.sort(key=lambda r: (r["last_seen"], r["workflow_version"] or ""), reverse=True)
    return {"data": rows, **period.fields()}
