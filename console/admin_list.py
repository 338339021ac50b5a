"""Changelist machinery that stays fast on a log table with millions of rows.

* `EstimatedCountPaginator`: no exact COUNT(*) over the table on every page load.
* `RecentValuesFilter`: sidebar choices for free-text columns from a small recent sample, not a
  SELECT DISTINCT over the whole table.
* `ExecutedAtRangeFilter`: a from/to date range with presets.
* `cheap_date_hierarchy`: Django's date drill-down without its SELECT DISTINCT date_trunc(...).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import cached_property

from central_logger import counting
from logs.models import WorkflowLog

# Exact counts are taken up to this many rows; past it the page says "more than 10,000".
COUNT_CAP = 10_000
# On PostgreSQL a filtered count gets this long; a filter no index serves well (say a rare error
# type across all tenants) then falls back to the planner's estimate instead of stalling the page.
COUNT_TIMEOUT_MS = 300
# Rows of the newest logs sampled for the sidebar choices of free-text columns.
CHOICES_SAMPLE = 2_000
CHOICES_CACHE_SECONDS = 60


def _sql(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    return queryset.order_by().values("pk").query.sql_with_params()


class EstimatedCountPaginator(Paginator):
    """Counts that never walk the whole table.

    Unfiltered on PostgreSQL: the planner's estimate (`pg_class.reltuples`, kept fresh by
    autovacuum), flagged `estimated`. Filtered, or a table too small for estimates to matter:
    an exact count of at most COUNT_CAP + 1 rows (`SELECT COUNT(*) FROM (... LIMIT 10001)`),
    flagged `capped` when there are more; if that count takes longer than COUNT_TIMEOUT_MS,
    the planner's estimate for the filter (EXPLAIN), flagged `estimated`. Pages past the count
    are simply not linked.
    """

    estimated = False
    capped = False

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        connection = connections[queryset.db]
        if not queryset.query.where:
            estimate = counting.table_rows(connection, queryset.model._meta.db_table)
            if estimate is not None and estimate > COUNT_CAP:
                self.estimated = True
                return estimate
        bounded = counting.count_at_most(connection, *_sql(queryset), COUNT_CAP + 1, timeout_ms=COUNT_TIMEOUT_MS)
        if bounded is None:
            self.estimated = True
            return max(counting.plan_rows(connection, *_sql(queryset)), 1)
        if bounded > COUNT_CAP:
            self.capped = True
            return COUNT_CAP
        return bounded


def _client_param(request: HttpRequest) -> str | None:
    value = request.GET.get("client__id__exact")
    return value if value and value.isdigit() else None


def recent_values(field: str, client_id: str | None) -> list[str]:
    """Distinct values of `field` among the newest CHOICES_SAMPLE logs (of one client if given).

    One index-ordered LIMIT query fetches all sampled columns at once and is cached for a minute,
    so the sidebar costs at most one cheap query per minute, whatever the table's size.
    """
    key = f"logs-admin-recent-values:{client_id or 'all'}"
    sample = cache.get(key)
    if sample is None:
        queryset = WorkflowLog.objects.dangerously_all_tenants().order_by("-executed_at", "-id")
        if client_id:
            queryset = queryset.filter(client_id=client_id)
        fields = [f.field for f in RecentValuesFilter.__subclasses__()]
        rows = list(queryset.values_list(*fields)[:CHOICES_SAMPLE])
        sample = {name: sorted({row[i] for row in rows if row[i]}) for i, name in enumerate(fields)}
        cache.set(key, sample, CHOICES_CACHE_SECONDS)
    return list(sample.get(field, []))


class RecentValuesFilter(admin.SimpleListFilter):
    """Filter on a free-text column; choices are the values seen in the newest logs.

    Any value works through the URL (e.g. `?category=billing`), sampled or not; the selected
    one is always listed.
    """

    field: str

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = recent_values(self.field, _client_param(request))
        selected = self.value()
        if selected and selected not in values:
            values.insert(0, selected)
        return [(value, value) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class CategoryFilter(RecentValuesFilter):
    title = "category (recent)"
    parameter_name = "category"
    field = "category"


class WorkflowVersionFilter(RecentValuesFilter):
    title = "workflow version (recent)"
    parameter_name = "workflow_version"
    field = "workflow_version"


class ErrorTypeFilter(RecentValuesFilter):
    title = "error type (recent)"
    parameter_name = "workflow_error_type"
    field = "workflow_error_type"


_RELATIVE = re.compile(r"^-(\d{1,5})([hd])$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_bound(raw: str, *, end: bool) -> dt.datetime:
    """A date (whole day; `to` is inclusive), an ISO datetime (naive = UTC), or `-24h`/`-7d`
    (relative to now, so the preset links stay valid when bookmarked)."""
    raw = raw.strip()
    relative = _RELATIVE.match(raw)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return timezone.now() - (dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(days=amount))
    # parse_datetime() would read a bare date as midnight; a bare date means the whole day.
    moment = None if _DATE_ONLY.match(raw) else parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise ValueError(raw)
        moment = dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time.min)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


class ExecutedAtRangeFilter(admin.ListFilter):
    """`executed_from` / `executed_to` (dates or ISO datetimes) plus presets (last hour ... 30 days)."""

    title = "executed between"
    template = "admin/logs/workflowlog/date_range_filter.html"
    from_param = "executed_from"
    to_param = "executed_to"
    presets = (("Last hour", "-1h"), ("Last 24 hours", "-24h"), ("Last 7 days", "-7d"), ("Last 30 days", "-30d"))

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in (self.from_param, self.to_param):
            if name in params:
                value = params.pop(name)
                value = value[-1] if isinstance(value, list) else value
                if value:
                    self.values[name] = value
                    self.used_parameters[name] = value
        self.hidden: list[tuple[str, str]] = []

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.from_param, self.to_param]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        try:
            if self.from_param in self.values:
                queryset = queryset.filter(executed_at__gte=_parse_bound(self.values[self.from_param], end=False))
            if self.to_param in self.values:
                queryset = queryset.filter(executed_at__lt=_parse_bound(self.values[self.to_param], end=True))
        except ValueError as exc:
            raise IncorrectLookupParameters(f"Not a date: {exc}") from None
        return queryset

    def choices(self, changelist: Any) -> list[dict[str, Any]]:
        # The template's GET form must carry the other active filters along.
        mine = {self.from_param, self.to_param, "p"}
        self.hidden = [(k, v) for k, v in changelist.params.items() if k not in mine and isinstance(v, str)]
        out = [{"selected": not self.values, "display": "Any time",
                "query_string": changelist.get_query_string(remove=[self.from_param, self.to_param])}]
        for label, start in self.presets:
            out.append({
                "selected": self.values.get(self.from_param) == start and self.to_param not in self.values,
                "display": label,
                "query_string": changelist.get_query_string({self.from_param: start}, [self.to_param]),
            })
        return out


class _Hierarchy:
    """The links of a date hierarchy over `field`, between the first and last log shown."""

    def __init__(self, changelist: Any, first: dt.datetime, last: dt.datetime) -> None:
        self.changelist, self.first, self.last = changelist, first, last
        self.field = field = changelist.date_hierarchy
        self.names = (f"{field}__year", f"{field}__month", f"{field}__day")

    def param(self, name: str) -> int | None:
        value = self.changelist.params.get(name)
        value = value[-1] if isinstance(value, list) else value
        return int(value) if value and str(value).isdigit() else None

    def link(self, *parts: int) -> str:
        return self.changelist.get_query_string(dict(zip(self.names, parts)), [f"{self.field}__"])

    def day(self, year: int, month: int, day: int) -> dict[str, Any]:
        date = dt.date(year, month, day)
        return {"show": True, "back": {"link": self.link(year, month), "title": _title(date, "YEAR_MONTH_FORMAT")},
                "choices": [{"title": _title(date, "MONTH_DAY_FORMAT")}]}

    def month(self, year: int, month: int) -> dict[str, Any]:
        days = [dt.date(year, month, d) for d in range(self.first.day, self.last.day + 1)]
        return {"show": True, "back": {"link": self.link(year), "title": str(year)},
                "choices": [{"link": self.link(year, month, d.day), "title": _title(d, "MONTH_DAY_FORMAT")}
                            for d in days]}

    def year(self, year: int) -> dict[str, Any]:
        months = [dt.date(year, m, 1) for m in range(self.first.month, self.last.month + 1)]
        return {"show": True, "back": {"link": self.link(), "title": "All dates"},
                "choices": [{"link": self.link(year, m.month), "title": _title(m, "YEAR_MONTH_FORMAT")}
                            for m in months]}

    def years(self) -> dict[str, Any]:
        return {"show": True, "choices": [{"link": self.link(y), "title": str(y)}
                                          for y in range(self.first.year, self.last.year + 1)]}


def _title(date: dt.date, format_name: str) -> str:
    from django.utils import formats
    from django.utils.text import capfirst

    return capfirst(formats.date_format(date, format_name))


def cheap_date_hierarchy(changelist: Any) -> dict[str, Any]:
    """Django's `date_hierarchy` context, without SELECT DISTINCT over the table.

    Django lists the years/months/days that hold rows with `queryset.datetimes(...)`, a DISTINCT
    over every matching row. We take MIN/MAX of the (already filtered) queryset instead, two
    index probes, and offer every year/month/day in between; an empty one just lists no logs.
    """
    field = changelist.date_hierarchy
    bounds = changelist.queryset.aggregate(first=Min(field), last=Max(field))
    if bounds["first"] is None or bounds["last"] is None:
        return {"show": False}
    first, last = timezone.localtime(bounds["first"]), timezone.localtime(bounds["last"])
    levels = _Hierarchy(changelist, first, last)
    year, month, day = (levels.param(name) for name in levels.names)
    if not year and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month
    if year and month and day:
        return levels.day(year, month, day)
    if year and month:
        return levels.month(year, month)
    return levels.year(year) if year else levels.years()
