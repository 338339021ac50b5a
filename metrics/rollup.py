"""Metrics from the `logs_rollup` table (PostgreSQL), with the same figures as a full scan.

Layout (created and kept exact by triggers, migration 0005_rollups): per client, per UTC hour
(grain `h`) and per UTC day (grain `d`), rows of six kinds:

    S  per status                    n, time_n, time_sum
    H  per execution-time bin        n                        (histogram, for percentiles)
    C  per (category, status)        n, time_n, time_sum
    E  per (error type, error node)  n, last_at               (logs with a type or FAILED/ERROR)
    V  per (version, status)         n, time_n, time_sum, first_at, last_at
    W  per (version, bin)            n                        (per-version histogram)
    F  per (error fingerprint, version)  n, first_at, last_at (failing logs; logs migration 0016)

Inserted logs reach the rollup in two steps (migration 0007): the insert trigger appends them
to `logs_rollup_pending` (no shared rows, so concurrent inserts of one tenant never wait on each
other), and a flusher folds the pending rows into the rollup about once a second (`flush()`,
run by a thread in each app process, see metrics/flusher.py). Deletes and updates still
recount the touched days synchronously.

A period [start, end) is answered from: `d` rows for the whole UTC days inside it, `h` rows for
the whole hours left at either side, the pending rows of those days and hours, and the raw
table for the partial hours at the edges (at most two hours of logs, through the (client,
executed_at) index). Pending and raw rows are aggregated the same way as the rollup's own
rows (logs_rollup_rows), in the same statement (one snapshot: a log is in the rollup or pending, never both).
Counts, sums, rates and averages are therefore exact. With a timeseries by hour, no `d` rows
are used.

The stored part is the expensive one (a 90-day overview sums ~8,500 day rows) and it only
changes when the flusher, a recount or a rebuild writes the client's rollup rows. Each such
write gives the client a new rollup version in the same transaction (migration 0008), so each
process keeps the summed stored part in memory (`stored_cache`, METRICS_ROLLUP_CACHE_ROWS) under
the version it was read at. Every request still runs one statement that returns the client's
current version, the pending rows and the raw edges; the stored rows are read (and the cache
refilled) only when that version differs from the cached one. A dashboard refreshing a quiet
tenant's 90 days costs one small statement; a busy tenant's cache turns over at most once per
flush (about a second).

Percentiles come from the histogram. Bins are logarithmic: bin 0 holds t < 1 ms and stands for
0; bin b ≥ 1 holds [1 ms · 1.04^(b−1), 1 ms · 1.04^b) and stands for its geometric middle, so
a value is represented within ±1.98 %. The estimate interpolates between the two ranks exactly
as `percentile_cont` does (same positions, each order statistic replaced by its bin's value),
so p50/p95 are within 2 % (relative) + 1 ms (absolute) of `percentile_cont`; the rest is
identical. When the whole answer covers at most METRICS_EXACT_PERCENTILE_LIMIT logs (default
5,000: a few milliseconds of reading), the percentiles are computed exactly from the table
instead, so small tenants and short periods get percentile_cont itself.
"""
from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings

from logs.models import STATUSES
from logs.tenant_sql import reads, rollup
from tenants.models import Client

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
GROWTH = 1.04
MIN_SECONDS = 0.001
# Documented tolerance of p50/p95 against percentile_cont (see the module docstring).
PERCENTILE_RELATIVE_ERROR = 0.02
PERCENTILE_ABSOLUTE_ERROR = 0.001


def enabled() -> bool:
    """Reads are answered from the rollup (METRICS_USE_ROLLUPS, on by default)."""
    return bool(settings.METRICS_USE_ROLLUPS)


def bin_value(b: int) -> float:
    """The execution time a histogram bin stands for (its geometric middle; 0 for bin 0)."""
    return 0.0 if b <= 0 else MIN_SECONDS * GROWTH ** (b - 0.5)


def hist_percentile(hist: dict[int, int], fraction: float) -> float | None:
    """percentile_cont over the histogram: the same rank positions, bins' values for the ranks."""
    total = sum(hist.values())
    if total == 0:
        return None
    position = fraction * (total - 1)
    lo = math.floor(position)
    hi = min(lo + 1, total - 1)
    lo_value = hi_value = None
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if lo_value is None and seen > lo:
            lo_value = bin_value(b)
        if seen > hi:
            hi_value = bin_value(b)
            break
    assert lo_value is not None and hi_value is not None
    return lo_value + (hi_value - lo_value) * (position - lo)


def _floor(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    t = t.astimezone(UTC)
    t = t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if step == DAY else t


def _ceil(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    f = _floor(t, step)
    return f if f == t else f + step


def split_period(start: dt.datetime, end: dt.datetime, *, use_days: bool = True) -> dict[str, Any]:
    """[start, end) as whole days (`d` rows), whole hours (`h` rows) and raw edges."""
    none = (None, None)
    h0, h1 = _ceil(start, HOUR), _floor(end, HOUR)
    if h0 >= h1:
        return {"days": none, "hours": [none, none], "raw": [(start, end), none]}
    d0, d1 = _ceil(start, DAY), _floor(end, DAY)
    if use_days and d0 < d1:
        days, hours = (d0, d1), [(h0, d0) if h0 < d0 else none, (d1, h1) if d1 < h1 else none]
    else:
        days, hours = none, [(h0, h1), none]
    raw = [(start, h0) if start < h0 else none, (h1, end) if h1 < end else none]
    return {"days": days, "hours": hours, "raw": raw}


HIST_KINDS = frozenset("HW")


class _Group:
    """The summed figures of one group (a period, a category, a version, a bucket, an error
    pair): counts per status, execution-time sums, first/last executed_at, the histogram."""

    __slots__ = ("count", "by_status", "time_n", "time_sum", "first_seen", "last_seen", "hist", "_percentiles")

    def __init__(self) -> None:
        self.count = 0
        self.by_status = dict.fromkeys(STATUSES, 0)
        self.time_n = 0
        self.time_sum = 0.0
        self.first_seen: dt.datetime | None = None
        self.last_seen: dt.datetime | None = None
        self.hist: dict[int, int] = {}
        self._percentiles: dict[tuple[float, ...], dict[float, float | None]] = {}

    def add(self, kind: str, status: str | None, b: int, n: int, time_n: int, time_sum: float,
            first_at: dt.datetime | None, last_at: dt.datetime | None) -> None:
        if kind in HIST_KINDS:
            self.hist[b] = self.hist.get(b, 0) + n
            return
        self.count += n
        if status is not None:
            self.by_status[status] += n
        self.time_n += time_n
        self.time_sum += time_sum
        if first_at is not None and (self.first_seen is None or first_at < self.first_seen):
            self.first_seen = first_at
        if last_at is not None and (self.last_seen is None or last_at > self.last_seen):
            self.last_seen = last_at

    def plus(self, other: _Group) -> _Group:
        """A new group: this one's figures and `other`'s (neither is changed: cached groups are
        shared between requests and threads)."""
        out = _Group()
        out.count = self.count + other.count
        out.by_status = {s: self.by_status[s] + other.by_status[s] for s in STATUSES}
        out.time_n = self.time_n + other.time_n
        out.time_sum = self.time_sum + other.time_sum
        firsts = [t for t in (self.first_seen, other.first_seen) if t is not None]
        lasts = [t for t in (self.last_seen, other.last_seen) if t is not None]
        out.first_seen = min(firsts) if firsts else None
        out.last_seen = max(lasts) if lasts else None
        out.hist = dict(self.hist)
        for b, n in other.hist.items():
            out.hist[b] = out.hist.get(b, 0) + n
        return out

    def percentiles(self, fractions: tuple[float, ...]) -> dict[float, float | None]:
        """hist_percentile per fraction, remembered (a cached group answers many requests)."""
        found = self._percentiles.get(fractions)
        if found is None:
            found = {f: hist_percentile(self.hist, f) for f in fractions}
            self._percentiles[fractions] = found  # a racing thread computes the same values
        return found


class _StoredCache:
    """Per process, least recently used first out, bounded by the stored rows it summarizes:
    {(database, client, query shape, period parts): (rollup version, {group key: _Group}, or a
    list total)}."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[int, dict[Any, _Group], int]] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> tuple[int, dict[Any, _Group]] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0], entry[1]

    def put(self, key: tuple[Any, ...], version: int, groups: dict[Any, _Group], rows: int) -> None:
        limit = settings.METRICS_ROLLUP_CACHE_ROWS
        if rows > limit:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._rows -= old[2]
            self._entries[key] = (version, groups, rows)
            self._rows += rows
            while self._rows > limit and self._entries:
                _key, (_v, _g, size) = self._entries.popitem(last=False)
                self._rows -= size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._rows = 0
            self.hits = self.misses = 0


stored_cache = _StoredCache()


def _key_function(group: str) -> Any:
    """The group key of a summed row, from its (bucket, dim1, dim2)."""
    if group.startswith("bucket:"):
        return lambda b, dim1, dim2: b.astimezone(UTC)
    if group.startswith("issues:"):  # (bucket, fingerprint, workflow version)
        return lambda b, dim1, dim2: (b.astimezone(UTC), dim1, dim2)
    return {
        "period": lambda b, dim1, dim2: None,
        "category": lambda b, dim1, dim2: dim1,
        "workflow_version": lambda b, dim1, dim2: dim1,
        "errors": lambda b, dim1, dim2: (dim1, dim2),
        "issues": lambda b, dim1, dim2: (dim1, dim2),
    }[group]


def _summarize(rows: list[tuple[Any, ...]], group: str) -> dict[Any, _Group]:
    key_of = _key_function(group)
    groups: dict[Any, _Group] = {}
    for kind, b, dim1, dim2, status, bin_, n, time_n, time_sum, first_at, last_at in rows:
        key = key_of(b, dim1, dim2)
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group()
        g.add(kind, status, bin_, n, time_n, time_sum, first_at, last_at)
    return groups


def period_params(start: dt.datetime, end: dt.datetime, *, use_days: bool, open_end: bool) -> dict[str, Any]:
    """The statement parameters of [start, end) split by `split_period`: d0/d1 (whole days),
    ha/hb (whole hours), ra/rb (raw edges). `open_end`: [start, infinity), with `end` a UTC
    midnight after which the logs are few enough to read raw (LAST_DAY); NULL upper bound."""
    parts = split_period(start, end, use_days=use_days)
    if open_end:
        assert _floor(end, DAY) == end and parts["raw"][1] == (None, None)
        parts["raw"][1] = (end, None)  # NULL upper bound: 'infinity' in the statement
    return {
        "d0": parts["days"][0], "d1": parts["days"][1],
        "ha0": parts["hours"][0][0], "ha1": parts["hours"][0][1],
        "hb0": parts["hours"][1][0], "hb1": parts["hours"][1][1],
        "ra0": parts["raw"][0][0], "ra1": parts["raw"][0][1],
        "rb0": parts["raw"][1][0], "rb1": parts["raw"][1][1],
    }


def cache_key(client: Client, *shape: Any) -> tuple[Any, ...]:
    """The stored-sum cache key of `client`'s rollup for a query `shape`, per database read
    (the dashboard's replica when one serves the request: central_logger/replica.py)."""
    connection = reads.read_connection()
    return (connection.alias, connection.settings_dict["NAME"], client.pk, *shape)


def _groups(client: Client, start: dt.datetime, end: dt.datetime, kinds: str, group: str) -> dict[Any, _Group]:
    """The figures of `kinds` over [start, end) per group ("period", "category",
    "workflow_version", "errors", "issues", "bucket:day", "bucket:hour", "issues:day",
    "issues:hour"): the stored rollup (from the process cache when the client's rollup version is
    unchanged) plus the pending rows and the raw edges of the period, all seen in one snapshot."""
    interval = group.partition(":")[2] or None
    period = period_params(start, end, use_days=interval != "hour", open_end=False)
    key = cache_key(client, kinds, group, *(period[k] for k in ("d0", "d1", "ha0", "ha1", "hb0", "hb1")))
    cached = stored_cache.get(key) if settings.METRICS_ROLLUP_CACHE_ROWS else None
    rows = rollup.read(client, kinds=kinds, interval=interval, period=period,
                       cached_version=cached[0] if cached is not None else -1)
    version = rows[0][7]
    live = _summarize([r[1:] for r in rows if r[0] == "l"], group)
    if cached is not None and version == cached[0]:
        stored_cache.hits += 1
        stored = cached[1]
    else:
        stored_cache.misses += 1
        stored_rows = [r[1:] for r in rows if r[0] == "s"]
        stored = _summarize(stored_rows, group)
        if settings.METRICS_ROLLUP_CACHE_ROWS:
            stored_cache.put(key, version, stored, len(stored_rows))
    if not live:
        return stored
    merged = dict(stored)
    for k, g in live.items():
        s = stored.get(k)
        merged[k] = g if s is None else s.plus(g)
    return merged


def group_stats(client: Client, *, start: dt.datetime, end: dt.datetime, group: str | None,
                fractions: tuple[float, ...] = ()) -> dict[Any, dict[str, Any]]:
    """Per-group figures of the logs of `client` with start <= executed_at < end.

    `group`: None (the whole period), "category", "workflow_version", or "bucket:day" /
    "bucket:hour" (UTC timeseries buckets). Returns {group value: {"count", one count per
    status, "avg", "first_seen", "last_seen", "percentiles": {fraction: value}}}, the shape of
    metrics.selectors' scan; first/last_seen only for "workflow_version".
    """
    kinds, hist_kind = {"category": ("C", ""), "workflow_version": ("V", "W")}.get(group or "", ("S", "H"))
    if fractions and not hist_kind:
        raise ValueError(f"The rollup has no execution-time histogram per {group}.")
    groups = _groups(client, start, end, kinds + (hist_kind if fractions else ""), group or "period")
    exact = None
    if fractions and sum(g.count for g in groups.values()) <= settings.METRICS_EXACT_PERCENTILE_LIMIT:
        exact = _exact_percentiles(client, start, end, group, fractions)
    return {key: _figures(g, fractions, exact, key) for key, g in groups.items() if g.count}


def _exact_percentiles(client: Client, start: dt.datetime, end: dt.datetime, group: str | None,
                       fractions: tuple[float, ...]) -> dict[Any, dict[float, float]]:
    """percentile_cont from the table, for answers small enough to read exactly."""
    rows = reads.exact_percentiles(client, start=start, end=end, group=group, fractions=fractions)
    return {(key.astimezone(UTC) if isinstance(key, dt.datetime) else key): dict(zip(fractions, values))
            for key, *values in rows}


def _figures(g: _Group, fractions: tuple[float, ...], exact: dict[Any, dict[float, float]] | None,
             key: Any = None) -> dict[str, Any]:
    if exact is not None:
        percentiles = {f: exact.get(key, {}).get(f) or 0.0 for f in fractions}
    else:
        percentiles = {f: value or 0.0 for f, value in g.percentiles(fractions).items()}
    return {"count": g.count, **g.by_status, "avg": g.time_sum / g.time_n if g.time_n else None,
            "first_seen": g.first_seen, "last_seen": g.last_seen, "percentiles": percentiles}


def error_groups(client: Client, *, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """(workflow_error_type, workflow_error_node, count, latest executed_at) of the failing logs."""
    return [
        {"workflow_error_type": dim1, "workflow_error_node": dim2, "count": g.count, "latest": g.last_seen}
        for (dim1, dim2), g in _groups(client, start, end, "E", "errors").items() if g.count
    ]


def issue_groups(client: Client, *, start: dt.datetime, end: dt.datetime,
                 interval: str | None) -> dict[Any, dict[str, Any]]:
    """Kind F: the failing logs of [start, end) per (bucket, fingerprint, workflow version) with
    `interval` "day"/"hour", or per (fingerprint, workflow version) with None. Each: count,
    first_seen, last_seen (min / max executed_at)."""
    group = f"issues:{interval}" if interval else "issues"
    return {key: {"count": g.count, "first_seen": g.first_seen, "last_seen": g.last_seen}
            for key, g in _groups(client, start, end, "F", group).items() if g.count}
