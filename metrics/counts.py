"""Exact list totals from the metrics rollup, for the read API's list pages (query/selectors.py).

A list filtered only by status, date range and at most one of category / workflow_version is
counted from the same rollup + pending rows + raw edges as the metrics: exact at any size, in
one small statement instead of a count of millions of rows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from logs.tenant_sql import rollup
from metrics.rollup import UTC, cache_key, period_params, stored_cache
from tenants.models import Client

# Bounds of a list count without start_date / end_date (datetime covers years 1-9999).
EARLIEST = dt.datetime(1, 1, 1, tzinfo=UTC)
LAST_DAY = dt.datetime(9999, 12, 31, tzinfo=UTC)
# The list filters the rollup has dimensions for (with at most one of category and
# workflow_version): with only these, the list's total comes from the rollup.
COUNTABLE_FILTERS = frozenset({"status", "category", "workflow_version", "start_date", "end_date"})


@dataclass(frozen=True)
class ListCount:
    """An exact list count from the rollup, as a statement (`statement`: SQL and parameters of
    one call of `logs_list_count()`, migration 0009), and `total()` turning its one row into the
    count. `count()` sends it alone; the list sends it after its page statement, in the same
    round trip. The stored part is kept in memory under the client's rollup version, like the
    metrics' sums: the statement carries the version this process holds, and answers NULL for
    the stored part while it is still current."""

    statement: tuple[str, list[Any]]
    cache_key: tuple[Any, ...]
    cached: tuple[Any, Any] | None

    def total(self, row: tuple[Any, ...]) -> int:
        version, stored, live = row
        if stored is None:  # the version this process summed: its sum still holds
            assert self.cached is not None
            stored_cache.hits += 1
            stored = self.cached[1]
        else:
            stored_cache.misses += 1
            if settings.METRICS_ROLLUP_CACHE_ROWS:
                stored_cache.put(self.cache_key, version, stored, 1)
        return int(stored) + int(live)

    def count(self) -> int:
        """The total, by the statement alone (prepared on the server)."""
        return self.total(rollup.run_list_count(self.statement))


def list_count(client: Client, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
               statuses: list[str] | None = None, categories: list[str] | None = None,
               versions: list[str] | None = None) -> ListCount:
    """The count of the logs of `client` with start <= executed_at < end (either bound open),
    one of `statuses`, and one of `categories` or one of `versions` (the rollup has no
    dimension for both at once)."""
    if categories and versions:
        raise ValueError("The rollup cannot count by category and workflow_version together.")
    kind, dims = ("C", categories) if categories else ("V", versions) if versions else ("S", None)
    statuses = sorted(set(statuses)) if statuses else None
    dims = sorted(set(dims)) if dims else None
    period = period_params(start or EARLIEST, end or LAST_DAY, use_days=True, open_end=end is None)
    key = cache_key(client, "count", kind, tuple(statuses or ()), tuple(dims or ()),
                    *(period[k] for k in ("d0", "d1", "ha0", "ha1", "hb0", "hb1")))
    cached = stored_cache.get(key) if settings.METRICS_ROLLUP_CACHE_ROWS else None
    statement = rollup.list_count(client, kind=kind, statuses=statuses, dims=dims, period=period,
                                  cached_version=cached[0] if cached is not None else -1)
    return ListCount(statement, key, cached)


def list_count_for(client: Client, filters: dict[str, Any]) -> ListCount | None:
    """The count of a list filtered by `filters` (parsed list parameters), or None when the
    rollup has no dimension for one of them (or rollups are off)."""
    if not settings.METRICS_USE_ROLLUPS:
        return None
    # Parameters sent empty parse to None; metric_conditions is a list, empty without metrics.* filters.
    sent = {name: value for name, value in filters.items() if value is not None and value != []}
    if not sent.keys() <= COUNTABLE_FILTERS or ("category" in sent and "workflow_version" in sent):
        return None
    start, end = sent.get("start_date"), sent.get("end_date")
    return list_count(client, start=start.as_start() if start else None, end=end.as_end_exclusive() if end else None,
                      statuses=sent.get("status"), categories=sent.get("category"),
                      versions=sent.get("workflow_version"))
