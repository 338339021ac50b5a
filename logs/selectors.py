"""Reads over workflow logs: the list, the export rows, and the dashboard metrics.

Every function takes a queryset that is ALREADY scoped to one tenant (and filtered by the
query string): scoping happens once, in `tenants.scoping.TenantScopedViewSet`, never here.

Metric definitions (pinned by logs/tests/test_metrics.py with hand-computed numbers; a future
rollup backend must return the same figures):
* a log belongs to a period when `period.start <= executed_at < period.end` (UTC);
* `success_rate` = 100 × SUCCESS / all logs, rounded to one decimal (0 when there are none);
* `error_count` = FAILED + ERROR (PARTIAL is neither a success nor an error);
* `avg_execution_time` = mean of the non-null `execution_time_seconds`, 3 decimals;
* `p50`/`p95` = the continuous percentile of the non-null execution times with linear
  interpolation between the closest ranks (PostgreSQL's `percentile_cont`): for sorted values
  v[0..n-1], position p·(n−1), v[lo] + (v[hi] − v[lo])·frac; 3 decimals;
* every figure of an empty set is 0, never null.

On PostgreSQL, unfiltered metrics (no environment/category/version filter) read the rollup
table instead of the logs (logs/rollups.py): the same figures, except p50/p95 of answers over
more than METRICS_EXACT_PERCENTILE_LIMIT logs, which come from its histogram within 2 %.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypedDict

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Avg, Count, F, FloatField, Max, Min, Q, QuerySet
from django.db.models.functions import Trunc

from central_logger.rows import fetch_dicts, fetch_page_for_client
from logs import rollups
from logs.models import Status, WorkflowLog
from logs.pagination import ListParams, Pagination, order_by, order_by_sql, paginate
from logs.serializers import DETAIL_FIELDS, SUMMARY_FIELDS
from tenants.models import Client

UTC = dt.timezone.utc
ERROR_STATUSES = (Status.FAILED, Status.ERROR)
# Metrics filters the rollup cannot answer (it has no such dimension): those requests scan.
ROLLUP_UNSUPPORTED_FILTERS = ("environment", "category", "workflow_version")
MAX_EXPORT_METRIC_COLUMNS = 200
MAX_ERROR_MESSAGE = 1000
EXAMPLE_FIELDS = ("id", "executed_at", "workflow_error", "workflow_error_type", "workflow_error_node", "status")
EXPORT_CHUNK_SIZE = 2000


# --- logs -------------------------------------------------------------------------------------------

def log_list(*, filterset: Any, client: Client | None, params: ListParams,
             count: rollups.ListCount | None = None) -> tuple[list[dict[str, Any]], Pagination]:
    """One page of log summaries (no payload/metadata/extra is read from the database).

    `filterset`: the validated LogFilterSet over the tenant's logs (its `.qs` is built only when
    needed). `client`: the tenant when nothing narrows its scope (the viewset's
    `unnarrowed_client()`): then a numbered page with filters that have a SQL form is read by
    one hand-written statement instead of a compiled ORM query. `count`: the statement of the
    exact total of the filtered logs, when the rollup can answer it (log_count_from_rollup);
    sent with the page statement, in the same round trip, when that is hand-written; else
    the count is bounded (pagination.bounded_count)."""
    read_page = None
    if client is not None and connection.vendor == "postgresql":
        where = filterset.where_sql(filterset.form.cleaned_data)
        if where is not None:
            condition, values = where

            def read_page(offset: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
                rows, counted = fetch_page_for_client(
                    WorkflowLog, client_id=client.pk, where=condition, params=values,
                    order_by=order_by_sql(params.ordering), offset=offset, limit=limit, columns=SUMMARY_FIELDS,
                    json_as_text=True, then=None if count is None else (count.sql, count.params))
                return rows, None if count is None or counted is None else count.total(counted[0])

    count_alone = None if count is None else lambda: rollups.count_logs(count)
    return paginate(lambda: filterset.qs, params, SUMMARY_FIELDS, count=count_alone, read_page=read_page)


# The list filters the metrics rollup has dimensions for (with at most one of category and
# workflow_version): with only these, the list's total comes from the rollup, exact at any size.
ROLLUP_COUNT_FILTERS = frozenset({"status", "category", "workflow_version", "start_date", "end_date"})


def log_count_from_rollup(*, client: Client | None, filters: dict[str, Any]) -> rollups.ListCount | None:
    """The statement of the exact total of a list filtered by `filters` (the parsed list
    parameters), read from the metrics rollup, or None when the rollup has no dimension for
    some filter (or `client` is None: the viewset narrows the tenant's scope)."""
    if client is None or not rollups.enabled():
        return None
    # Parameters sent empty parse to None; metric_conditions is a list, empty without metrics.* filters.
    sent = {name: value for name, value in filters.items() if value is not None and value != []}
    if not sent.keys() <= ROLLUP_COUNT_FILTERS or ("category" in sent and "workflow_version" in sent):
        return None
    start, end = sent.get("start_date"), sent.get("end_date")
    return rollups.list_count(
        client_id=client.pk, start=start.as_start() if start else None, end=end.as_end_exclusive() if end else None,
        statuses=sent.get("status"), categories=sent.get("category"), versions=sent.get("workflow_version"))


def log_export_metric_keys(*, queryset: QuerySet[Any]) -> list[str]:
    """The sorted union of the top-level `metrics` keys over the filtered logs (the CSV columns).

    A first pass in the database (distinct keys only; no rows travel), so a key that appears in
    a single log still gets its column. Capped at MAX_EXPORT_METRIC_COLUMNS keys.
    """
    sql, params = queryset.order_by().values("metrics").query.sql_with_params()
    if connection.vendor == "postgresql":
        keys_sql = (f"SELECT DISTINCT k FROM ({sql}) s, jsonb_object_keys(s.metrics) k "
                    f"WHERE jsonb_typeof(s.metrics) = 'object' ORDER BY k LIMIT %s")
    else:
        keys_sql = (f"SELECT DISTINCT j.key FROM ({sql}) s, json_each(s.metrics) j "
                    f"WHERE json_type(s.metrics) = 'object' ORDER BY j.key LIMIT %s")
    with connection.cursor() as cursor:
        cursor.execute(keys_sql, (*params, MAX_EXPORT_METRIC_COLUMNS))
        return [row[0] for row in cursor.fetchall()]


def log_export_rows(*, queryset: QuerySet[Any], ordering: str, detail: bool) -> Iterator[dict[str, Any]]:
    """Every filtered log in list order, streamed in chunks (a server-side cursor on PostgreSQL),
    so memory stays constant whatever the number of rows. `detail` adds payload/metadata/extra."""
    columns = DETAIL_FIELDS if detail else SUMMARY_FIELDS
    return queryset.order_by(*order_by(ordering)).values(*columns).iterator(chunk_size=EXPORT_CHUNK_SIZE)


# --- periods ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """A half-open UTC interval [start, end) and the one just before it, of the same length."""

    start: dt.datetime
    end: dt.datetime
    days: int
    previous_start: dt.datetime
    previous_end: dt.datetime

    @classmethod
    def last_days(cls, days: int, *, now: dt.datetime) -> Period:
        """The `days` UTC calendar days ending today: 00:00 UTC of (today − days + 1) → now.
        The previous period is the `days` whole UTC days before that."""
        now = now.astimezone(UTC)
        start = dt.datetime(now.year, now.month, now.day, tzinfo=UTC) - dt.timedelta(days=days - 1)
        return cls(start, now, days, start - dt.timedelta(days=days), start)

    @classmethod
    def between(cls, start: dt.datetime, end: dt.datetime) -> Period:
        """A custom range; the previous period is the same duration immediately before."""
        length = end - start
        return cls(start, end, math.ceil(length / dt.timedelta(days=1)), start - length, start)

    def fields(self) -> dict[str, Any]:
        return {"period_days": self.days, "period_start": self.start, "period_end": self.end}


def _in(queryset: QuerySet[Any], start: dt.datetime, end: dt.datetime) -> QuerySet[Any]:
    return queryset.filter(executed_at__gte=start, executed_at__lt=end)


# --- shared aggregation ---------------------------------------------------------------------------

class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(f) WITHIN GROUP (ORDER BY x)`."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        # `fraction` is one of our constants (FRACTIONS), never user input.
        super().__init__(expression, fraction=repr(float(fraction)), output_field=FloatField(), **extra)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """percentile_cont on an ascending list: linear interpolation between the closest ranks."""
    if not sorted_values:
        return 0.0
    position = fraction * (len(sorted_values) - 1)
    lo = math.floor(position)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (position - lo)


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


def _pkey(fraction: float) -> str:
    return f"p{round(fraction * 1000)}"


def _group_stats(queryset: QuerySet[Any], *, group: str | None, fractions: tuple[float, ...] = ()) -> dict[Any, Stats]:
    """Counts per status, mean, first/last executed_at and percentiles of the execution time,
    per value of `group` (a field or an annotation on `queryset`), or of the whole set (key None).
    One SQL aggregation; on SQLite, which has no percentile_cont, percentiles come from one ordered
    streaming pass holding one group's values at a time."""
    postgres = connection.vendor == "postgresql"
    aggregates: dict[str, Any] = {
        "count": Count("pk"),
        **{status: Count("pk", filter=Q(status=status)) for status in Status.values},
        "avg": Avg("execution_time_seconds"),
        "first_seen": Min("executed_at"),
        "last_seen": Max("executed_at"),
    }
    if postgres:
        aggregates.update({_pkey(f): PercentileCont("execution_time_seconds", f) for f in fractions})
    if group is None:
        rows = [{**queryset.order_by().aggregate(**aggregates), "_group": None}]
    else:
        rows = [{**row, "_group": row[group]}
                for row in queryset.order_by().values(group).annotate(**aggregates).order_by()]
    out: dict[Any, Stats] = {}
    for row in rows:
        out[row["_group"]] = Stats(
            count=row["count"], SUCCESS=row["SUCCESS"], PARTIAL=row["PARTIAL"], FAILED=row["FAILED"],
            ERROR=row["ERROR"], avg=row["avg"], first_seen=row["first_seen"], last_seen=row["last_seen"],
            percentiles={f: row[_pkey(f)] or 0.0 for f in fractions} if postgres else {},
        )
    if fractions and not postgres:
        for key, values in _sorted_values_by_group(queryset, group):
            if key in out:
                out[key]["percentiles"] = {f: percentile(values, f) for f in fractions}
    return out


def _sorted_values_by_group(queryset: QuerySet[Any], group: str | None) -> Iterator[tuple[Any, list[float]]]:
    ordered = queryset.filter(execution_time_seconds__isnull=False)
    if group is None:
        values = list(ordered.order_by("execution_time_seconds").values_list("execution_time_seconds", flat=True))
        yield None, values
        return
    stream = ordered.order_by(group, "execution_time_seconds").values_list(group, "execution_time_seconds")
    current: Any = object()
    values = []
    for key, value in stream.iterator(chunk_size=EXPORT_CHUNK_SIZE):
        if key != current:
            if values:
                yield current, values
            current, values = key, []
        values.append(value)
    if values:
        yield current, values


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _seconds(value: float | None) -> float:
    return round(value, 3) if value is not None else 0.0


def _empty_stats() -> Stats:
    return Stats(count=0, SUCCESS=0, PARTIAL=0, FAILED=0, ERROR=0, avg=None, first_seen=None,
                 last_seen=None, percentiles={})


# --- metrics --------------------------------------------------------------------------------------

def metrics_rollup_client(*, client: Client | None, query: Any) -> Client | None:
    """The client whose rollup can answer this metrics request, or None to scan its logs.

    The rollup has no environment / category / version dimension for filtering, so any of
    those filters means a scan of the (already filtered) queryset. `client` is None when the
    viewset narrows the tenant's scope (TenantScopedViewSet.unnarrowed_client)."""
    if client is None or not rollups.enabled():
        return None
    if any(str(query.get(name, "")).strip() for name in ROLLUP_UNSUPPORTED_FILTERS):
        return None
    return client


def _stats(queryset: QuerySet[Any], start: dt.datetime, end: dt.datetime, *, group: str | None,
           fractions: tuple[float, ...] = (), rollup_client: Client | None = None,
           interval: str | None = None) -> dict[Any, Stats]:
    """`_group_stats` of the logs in [start, end): from the rollup when `rollup_client` is given,
    else by aggregating the queryset (group "bucket" = the UTC `interval` buckets)."""
    if rollup_client is not None:
        rollup_group = f"bucket:{interval}" if group == "bucket" else group
        return {key: Stats(**figures) for key, figures in rollups.group_stats(
            client_id=rollup_client.pk, start=start, end=end, group=rollup_group, fractions=fractions).items()}
    scoped = _in(queryset, start, end)
    if group == "bucket":
        scoped = scoped.annotate(bucket=Trunc("executed_at", interval, tzinfo=UTC))
        return {bucket.astimezone(UTC): s
                for bucket, s in _group_stats(scoped, group="bucket", fractions=fractions).items()}
    return _group_stats(scoped, group=group, fractions=fractions)


def _period_figures(queryset: QuerySet[Any], start: dt.datetime, end: dt.datetime,
                    rollup_client: Client | None = None) -> dict[str, Any]:
    stats = _stats(queryset, start, end, group=None, fractions=(0.5, 0.95),
                   rollup_client=rollup_client).get(None) or _empty_stats()
    total = stats["count"]
    return {
        "total_tickets": total,
        "success_rate": _rate(stats["SUCCESS"], total),
        "avg_execution_time": _seconds(stats["avg"]),
        "error_count": stats["FAILED"] + stats["ERROR"],
        "status_counts": {status: stats[status] for status in Status.values},  # type: ignore[literal-required]
        "p50_execution_time": _seconds(stats["percentiles"].get(0.5)),
        "p95_execution_time": _seconds(stats["percentiles"].get(0.95)),
        "period_start": start,
        "period_end": end,
    }


def metrics_overview(*, queryset: QuerySet[Any], period: Period, rollup_client: Client | None = None) -> dict[str, Any]:
    """The seed's overview (`total_tickets`, `success_rate`, `avg_execution_time`, `error_count`,
    `period_days`) plus `status_counts`, p50/p95 execution time, and `previous`: the same figures
    for the period of the same length just before (see the module docstring for definitions)."""
    current = _period_figures(queryset, period.start, period.end, rollup_client)
    previous = _period_figures(queryset, period.previous_start, period.previous_end, rollup_client)
    return {**current, "period_days": period.days, "previous": previous}


def metrics_categories(*, queryset: QuerySet[Any], period: Period, rollup_client: Client | None = None) -> dict[str, Any]:
    """Per `category` (null = logs without one): count, success_count, success_rate, error_count,
    avg_execution_time; sorted by count descending, then category (null last)."""
    stats = _stats(queryset, period.start, period.end, group="category", rollup_client=rollup_client)
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


def metrics_timeseries(*, queryset: QuerySet[Any], period: Period, interval: str,
                       rollup_client: Client | None = None) -> dict[str, Any]:
    """Per UTC hour or day bucket of the period (every bucket present, empty ones all zeros):
    count, success_count, success_rate, error_count, avg and p95 execution time."""
    stats = _stats(queryset, period.start, period.end, group="bucket", interval=interval, fractions=(0.95,),
                   rollup_client=rollup_client)
    rows = []
    for bucket in timeseries_buckets(period.start, period.end, interval):
        s = stats.get(bucket) or _empty_stats()
        rows.append({
            "bucket": bucket, "count": s["count"], "success_count": s["SUCCESS"],
            "success_rate": _rate(s["SUCCESS"], s["count"]), "error_count": s["FAILED"] + s["ERROR"],
            "avg_execution_time": _seconds(s["avg"]),
            "p95_execution_time": _seconds(s["percentiles"].get(0.95)),
        })
    return {"data": rows, "interval": interval, **period.fields()}


def metrics_errors(*, queryset: QuerySet[Any], period: Period, limit: int,
                   rollup_client: Client | None = None) -> dict[str, Any]:
    """The most common (`workflow_error_type`, `workflow_error_node`) pairs among logs that have
    an error type or status FAILED/ERROR; null type/node form their own groups. Each with its
    count and the latest log (id, executed_at, first 1,000 characters of workflow_error).
    Sorted by count desc, then latest first; at most `limit` groups."""
    if rollup_client is not None:
        groups = sorted(
            rollups.error_groups(client_id=rollup_client.pk, start=period.start, end=period.end),
            key=lambda g: (-g["count"], -g["latest"].timestamp(),
                           g["workflow_error_type"] is not None, g["workflow_error_type"] or "",
                           g["workflow_error_node"] is not None, g["workflow_error_node"] or ""),
        )[:limit]
    else:
        failing = _in(queryset, period.start, period.end).filter(
            Q(workflow_error_type__isnull=False) | Q(status__in=ERROR_STATUSES))
        groups = list(
            failing.values("workflow_error_type", "workflow_error_node")
            .annotate(count=Count("pk"), latest=Max("executed_at"))
            .order_by("-count", "-latest", F("workflow_error_type").asc(nulls_first=True),
                      F("workflow_error_node").asc(nulls_first=True))[:limit]
        )
    if not groups:
        return {"data": [], **period.fields()}
    # One query for every group's latest example: the rows at the groups' latest timestamps (an
    # index probe each; those timestamps lie in the period), matched to their group and kept
    # when failing, here. One `IN` list rather than an OR of a (time, type, node, failing)
    # condition per group: building that Q cost ~9 ms of Python.
    latest = {(g["workflow_error_type"], g["workflow_error_node"]): g["latest"] for g in groups}
    examples: dict[tuple[Any, Any], dict[str, Any]] = {}
    instants = {g["latest"] for g in groups}
    if rollup_client is not None:  # the tenant's logs, unfiltered: no ORM query to compile
        # One array literal of ISO instants: quoting a list of datetimes one by one on the
        # client cost ~0.4 ms for 37 groups. ISO timestamps hold no character that needs
        # quoting in an array literal, and keep their microseconds.
        instants_literal = "{" + ",".join(instant.isoformat() for instant in instants) + "}"
        candidates, _ = fetch_page_for_client(
            WorkflowLog, client_id=rollup_client.pk, where="executed_at = ANY(%s::timestamptz[])",
            params=[instants_literal], order_by=order_by_sql("-executed_at"), columns=EXAMPLE_FIELDS)
    else:
        candidates = fetch_dicts(queryset.filter(executed_at__in=instants).order_by("-executed_at", "-id"),
                                 EXAMPLE_FIELDS)
    for row in candidates:
        pair = (row["workflow_error_type"], row["workflow_error_node"])
        failing = row["workflow_error_type"] is not None or row["status"] in ERROR_STATUSES
        if failing and latest.get(pair) == row["executed_at"]:
            examples.setdefault(pair, row)
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


def metrics_versions(*, queryset: QuerySet[Any], period: Period, rollup_client: Client | None = None) -> dict[str, Any]:
    """Per `workflow_version` (null = unversioned logs): count, success_rate, error_count, avg and
    p95 execution time, first/last executed_at within the period; newest version (last_seen)
    first, so a version and the one before it are adjacent rows."""
    stats = _stats(queryset, period.start, period.end, group="workflow_version", fractions=(0.95,),
                   rollup_client=rollup_client)
    rows = [
        {"workflow_version": version, "count": s["count"], "success_rate": _rate(s["SUCCESS"], s["count"]),
         "error_count": s["FAILED"] + s["ERROR"], "avg_execution_time": _seconds(s["avg"]),
         "p95_execution_time": _seconds(s["percentiles"].get(0.95)),
         "first_seen": s["first_seen"], "last_seen": s["last_seen"]}
        for version, s in stats.items()
    ]
    rows.sort(key=lambda r: (r["last_seen"], r["workflow_version"] or ""), reverse=True)
    return {"data": rows, **period.fields()}
