"""Metrics from the `logs_rollup` table (PostgreSQL), with the same figures as a full scan.

Layout (created and kept exact by triggers, migration 0005_rollups): per client, per UTC hour
(grain `h`) and per UTC day (grain `d`), rows of six kinds:

    S  per status                    n, time_n, time_sum
    H  per execution-time bin        n                        (histogram, for percentiles)
    C  per (category, status)        n, time_n, time_sum
    E  per (error type, error node)  n, last_at               (logs with a type or FAILED/ERROR)
    V  per (version, status)         n, time_n, time_sum, first_at, last_at
    W  per (version, bin)            n                        (per-version histogram)

Inserted logs reach the rollup in two steps (migration 0007): the insert trigger appends them
to `logs_rollup_pending` (no shared rows, so concurrent inserts of one tenant never wait on each
other), and a flusher folds the pending rows into the rollup about once a second (`flush()`,
run by a thread in each app process, see logs/rollup_flusher.py). Deletes and updates still
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
from contextlib import nullcontext
from dataclasses import dataclass
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db import connection, connections, router, transaction

from logs.models import WorkflowLog

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
GROWTH = 1.04
MIN_SECONDS = 0.001
# Documented tolerance of p50/p95 against percentile_cont (see the module docstring).
PERCENTILE_RELATIVE_ERROR = 0.02
PERCENTILE_ABSOLUTE_ERROR = 0.001
STATUSES = ("SUCCESS", "PARTIAL", "FAILED", "ERROR")


def available() -> bool:
    """Rollups exist on PostgreSQL only (SQLite computes every figure from the table)."""
    return connection.vendor == "postgresql"


def enabled() -> bool:
    """Reads are answered from the rollup: it exists and METRICS_USE_ROLLUPS is on."""
    return available() and settings.METRICS_USE_ROLLUPS


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


# The stored rollup of [start, end) is kept in memory per process, keyed by the client's rollup
# version (migration 0008): every change of a client's stored rows gives it a new version in the
# same transaction, so a cached sum is exact for as long as the database shows that version.
# The pending rows and the raw edges are read on every request, in the statement that reads the
# version (one snapshot), and the stored rows only when the version differs from the cached one.
_SQL = """
WITH v AS MATERIALIZED (
    SELECT coalesce((SELECT version FROM logs_rollup_version WHERE client_id = %(client)s), 0) AS version
),
live AS MATERIALIZED (
    -- the partial hours at the edges, from the logs themselves
    SELECT w.executed_at, w.execution_time_seconds AS ets, w.status, w.category, w.workflow_version,
           w.workflow_error_type, w.workflow_error_node
      FROM workflow_logs w
     WHERE w.client_id = %(client)s
       AND ((w.executed_at >= %(ra0)s::timestamptz AND w.executed_at < %(ra1)s::timestamptz)
         OR (w.executed_at >= %(rb0)s::timestamptz
             AND w.executed_at < coalesce(%(rb1)s::timestamptz, 'infinity')))
    UNION ALL
    -- logs of the whole days and hours that the flusher has not folded in yet
    SELECT p.executed_at, p.execution_time_seconds, p.status, p.category, p.workflow_version,
           p.workflow_error_type, p.workflow_error_node
      FROM logs_rollup_pending p
     WHERE p.client_id = %(client)s
       AND ((p.executed_at >= %(d0)s::timestamptz AND p.executed_at < %(d1)s::timestamptz)
         OR (p.executed_at >= %(ha0)s::timestamptz AND p.executed_at < %(ha1)s::timestamptz)
         OR (p.executed_at >= %(hb0)s::timestamptz AND p.executed_at < %(hb1)s::timestamptz))
)
SELECT 'v'::text, NULL::"char", NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::smallint,
       version, NULL::bigint, NULL::float8, NULL::timestamptz, NULL::timestamptz
  FROM v
UNION ALL
(SELECT 's', kind, {bucket} AS b, dim1, dim2, status, bin, sum(n)::bigint, sum(time_n)::bigint, sum(time_sum),
        min(first_at), max(last_at)
   FROM logs_rollup
  WHERE (SELECT version FROM v) <> %(cached)s::bigint
    AND client_id = %(client)s AND kind = ANY('{kinds}'::"char"[]) AND (
        (grain = 'd' AND bucket >= %(d0)s::timestamptz AND bucket < %(d1)s::timestamptz)
     OR (grain = 'h' AND bucket >= %(ha0)s::timestamptz AND bucket < %(ha1)s::timestamptz)
     OR (grain = 'h' AND bucket >= %(hb0)s::timestamptz AND bucket < %(hb1)s::timestamptz))
  GROUP BY kind, b, dim1, dim2, status, bin)
{live}
"""
# The `live` logs summed per kind exactly as logs_rollup_rows (migration 0005) sums them, for
# the kinds asked only. Written out rather than calling that function: PostgreSQL cannot inline
# it and plans its six aggregates on every call (~4 ms for a few hundred logs).
_LIVE_KINDS = {
    "S": """SELECT 'l', 'S'::"char", {b}, NULL, NULL, status, -1::smallint, count(*), count(ets),
               coalesce(sum(ets), 0), NULL, NULL FROM live GROUP BY 3, status""",
    "H": """SELECT 'l', 'H'::"char", {b}, NULL, NULL, NULL, logs_rollup_bin(ets), count(*), count(*), 0, NULL, NULL
              FROM live WHERE ets IS NOT NULL GROUP BY 3, 7""",
    "C": """SELECT 'l', 'C'::"char", {b}, category, NULL, status, -1::smallint, count(*), count(ets),
               coalesce(sum(ets), 0), NULL, NULL FROM live GROUP BY 3, category, status""",
    "E": """SELECT 'l', 'E'::"char", {b}, workflow_error_type, workflow_error_node, NULL, -1::smallint, count(*), 0, 0,
               NULL, max(executed_at) FROM live WHERE status IN ('FAILED', 'ERROR') OR workflow_error_type IS NOT NULL
             GROUP BY 3, workflow_error_type, workflow_error_node""",
    "V": """SELECT 'l', 'V'::"char", {b}, workflow_version, NULL, status, -1::smallint, count(*), count(ets),
               coalesce(sum(ets), 0), min(executed_at), max(executed_at) FROM live GROUP BY 3, workflow_version, status""",
    "W": """SELECT 'l', 'W'::"char", {b}, workflow_version, NULL, NULL, logs_rollup_bin(ets), count(*), count(*), 0,
               NULL, NULL FROM live WHERE ets IS NOT NULL GROUP BY 3, workflow_version, 7""",
}
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
    return {
        "period": lambda b, dim1, dim2: None,
        "category": lambda b, dim1, dim2: dim1,
        "workflow_version": lambda b, dim1, dim2: dim1,
        "errors": lambda b, dim1, dim2: (dim1, dim2),
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


def _period_params(start: dt.datetime, end: dt.datetime, *, use_days: bool, open_end: bool) -> dict[str, Any]:
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


def _groups(client_id: int, start: dt.datetime, end: dt.datetime, kinds: str, group: str, *,
            open_end: bool = False) -> dict[Any, _Group]:
    """The figures of `kinds` over [start, end) per group ("period", "category",
    "workflow_version", "errors", "bucket:day", "bucket:hour"): the stored rollup (from the
    process cache when the client's rollup version is unchanged) plus the pending rows and the
    raw edges of the period, all seen in one snapshot. `open_end`: [start, ∞), with `end` a
    UTC midnight after which the logs are few enough to read raw (LAST_DAY)."""
    interval = group.split(":")[1] if group.startswith("bucket:") else None
    params = {"client": client_id, **_period_params(start, end, use_days=interval != "hour", open_end=open_end)}
    assert kinds and set(kinds) <= set(_LIVE_KINDS)  # written into the statement below
    # The dashboard's replica when one is configured (central_logger/replica.py), else default.
    using = router.db_for_read(WorkflowLog)
    key = (using, connections[using].settings_dict["NAME"], client_id, kinds, group,
           params["d0"], params["d1"], params["ha0"], params["ha1"], params["hb0"], params["hb1"])
    cached = stored_cache.get(key) if settings.METRICS_ROLLUP_CACHE_ROWS else None
    params["cached"] = cached[0] if cached is not None else -1
    # By hour, every stored row used is an `h` row, already the start of its hour.
    bucket = {None: "NULL::timestamptz", "hour": "bucket"}.get(interval, "date_trunc('day', bucket, 'UTC')")
    live_bucket = {None: "NULL::timestamptz"}.get(interval, f"date_trunc('{interval}', executed_at, 'UTC')")
    live = "".join(f"UNION ALL ({_LIVE_KINDS[kind].format(b=live_bucket)})\n" for kind in kinds)
    # A 90-day series by hour aggregates ~150,000 rollup rows: its hash and sort get room in
    # memory (PostgreSQL's default 4 MB spills them to disk), for that statement's transaction.
    by_hour = interval == "hour"
    db = connections[using]
    with transaction.atomic(using=using) if by_hour else nullcontext():
        if by_hour:
            with db.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '32MB'")
        # One statement text per (kinds, interval), prepared on the server (~0.6 ms of planning
        # saved per request; central_logger/postgres/base.py).
        rows = db.fetch_prepared(_SQL.format(bucket=bucket, live=live, kinds="{" + ",".join(kinds) + "}"), params)
    version = rows[0][7]
    stored_rows = [r[1:] for r in rows if r[0] == "s"]
    live = _summarize([r[1:] for r in rows if r[0] == "l"], group)
    if cached is not None and version == cached[0]:
        stored_cache.hits += 1
        stored = cached[1]
    else:
        stored_cache.misses += 1
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


# Bounds of a list count without start_date / end_date (datetime covers years 1-9999).
EARLIEST = dt.datetime(1, 1, 1, tzinfo=UTC)
LAST_DAY = dt.datetime(9999, 12, 31, tzinfo=UTC)


_PERIOD_KEYS = ("d0", "d1", "ha0", "ha1", "hb0", "hb1", "ra0", "ra1", "rb0", "rb1")
# Positional parameters: client, kind, statuses, dims, the ten period bounds, cached version.
_COUNT_SQL = (
    'SELECT version, stored, live FROM logs_list_count(%s, %s::"char", %s::text[], %s::text[], '
    + ", ".join(["%s::timestamptz"] * len(_PERIOD_KEYS)) + ", %s::bigint)"
)


@dataclass(frozen=True)
class ListCount:
    """An exact list count from the rollup, as a statement: `sql` with its positional `params`
    (one call of `logs_list_count()`, migration 0009), and `total()` turning its one row into
    the count. `count_logs()` sends it alone; the list sends it after its page statement, in
    the same round trip (logs/selectors.py). The stored part is kept in memory under the
    client's rollup version, like the metrics' sums: the statement carries the version this
    process holds, and answers NULL for the stored part while it is still current."""

    sql: str
    params: list[Any]
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


def list_count(*, client_id: int, start: dt.datetime | None = None, end: dt.datetime | None = None,
               statuses: list[str] | None = None, categories: list[str] | None = None,
               versions: list[str] | None = None) -> ListCount:
    """The statement counting the logs of one client with start <= executed_at < end (either
    bound open), one of `statuses`, and one of `categories` or one of `versions` (the rollup
    has no dimension for both at once): exact, from the same rollup + pending + raw edges as
    the metrics."""
    if categories and versions:
        raise ValueError("The rollup cannot count by category and workflow_version together.")
    kind, dims = ("C", categories) if categories else ("V", versions) if versions else ("S", None)
    statuses = sorted(set(statuses)) if statuses else None
    dims = sorted(set(dims)) if dims else None
    period = _period_params(start or EARLIEST, end or LAST_DAY, use_days=True, open_end=end is None)
    bounds = [period[name] for name in _PERIOD_KEYS]
    using = router.db_for_read(WorkflowLog)
    key = (using, connections[using].settings_dict["NAME"], client_id, "count", kind,
           tuple(statuses or ()), tuple(dims or ()), *bounds[:6])
    cached = stored_cache.get(key) if settings.METRICS_ROLLUP_CACHE_ROWS else None
    params = [client_id, kind, statuses, dims, *bounds, cached[0] if cached is not None else -1]
    return ListCount(_COUNT_SQL, params, key, cached)


def count_logs(count: ListCount) -> int:
    """The total of `count` (a `list_count()`), by its statement alone (prepared on the server)."""
    (row,) = connections[router.db_for_read(WorkflowLog)].fetch_prepared(count.sql, count.params)
    return count.total(row)


def group_stats(*, client_id: int, start: dt.datetime, end: dt.datetime, group: str | None,
                fractions: tuple[float, ...] = ()) -> dict[Any, dict[str, Any]]:
    """Per-group figures of the logs of one client with start <= executed_at < end.

    `group`: None (the whole period), "category", "workflow_version", or "bucket:day" /
    "bucket:hour" (UTC timeseries buckets). Returns {group value: {"count", one count per
    status, "avg", "first_seen", "last_seen", "percentiles": {fraction: value}}}, the shape of
    logs.selectors._group_stats; first/last_seen only for "workflow_version".
    """
    kinds, hist_kind = {"category": ("C", ""), "workflow_version": ("V", "W")}.get(group or "", ("S", "H"))
    if fractions and not hist_kind:
        raise ValueError(f"The rollup has no execution-time histogram per {group}.")
    wanted = kinds + (hist_kind if fractions else "")
    groups = _groups(client_id, start, end, wanted, group or "period")
    exact = None
    if fractions and sum(g.count for g in groups.values()) <= settings.METRICS_EXACT_PERCENTILE_LIMIT:
        exact = _exact_percentiles(client_id, start, end, group, fractions)
    result = {}
    for key, g in groups.items():
        if g.count == 0:
            continue
        if exact is not None:
            percentiles = {f: exact.get(key, {}).get(f) or 0.0 for f in fractions}
        else:
            percentiles = {f: value or 0.0 for f, value in g.percentiles(fractions).items()}
        result[key] = {
            "count": g.count, **g.by_status, "avg": g.time_sum / g.time_n if g.time_n else None,
            "first_seen": g.first_seen, "last_seen": g.last_seen, "percentiles": percentiles,
        }
    return result


def _exact_percentiles(client_id: int, start: dt.datetime, end: dt.datetime, group: str | None,
                       fractions: tuple[float, ...]) -> dict[Any, dict[float, float]]:
    """percentile_cont from the table, for periods small enough that reading their execution
    times costs less than a few milliseconds (METRICS_EXACT_PERCENTILE_LIMIT logs)."""
    expr = {None: "NULL", "workflow_version": "workflow_version", "bucket:day": "date_trunc('day', executed_at, 'UTC')",
            "bucket:hour": "date_trunc('hour', executed_at, 'UTC')"}[group]
    cols = ", ".join(f"percentile_cont({float(f)!r}) WITHIN GROUP (ORDER BY execution_time_seconds)" for f in fractions)
    sql = (f"SELECT {expr}, {cols} FROM workflow_logs WHERE client_id = %s AND executed_at >= %s "
           "AND executed_at < %s AND execution_time_seconds IS NOT NULL GROUP BY 1")
    with connections[router.db_for_read(WorkflowLog)].cursor() as cursor:
        cursor.execute(sql, [client_id, start, end])
        rows = cursor.fetchall()
    return {(key.astimezone(UTC) if isinstance(key, dt.datetime) else key): dict(zip(fractions, values))
            for key, *values in rows}


def flush(max_rows: int = 50_000) -> int:
    """Fold up to `max_rows` pending logs into the rollup (one transaction); returns how many."""
    if not available():
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT logs_rollup_flush(%s)", [max_rows])
        return int(cursor.fetchone()[0])


def flush_all(batch: int = 50_000) -> int:
    """Fold every pending log in (rebuilds, tests, the flush_rollups command)."""
    total = 0
    while moved := flush(batch):
        total += moved
    return total


def vacuum_pending() -> None:
    """VACUUM the pending table (autocommit; it is small once flushed). Its rows are all
    inserted and deleted within seconds, so where autovacuum is off or slow the flusher keeps
    it from bloating.

    Without truncating its empty tail: that needs the table's ACCESS EXCLUSIVE lock, which
    every ingesting transaction's RowExclusive lock on it (the insert trigger) conflicts with.
    Under load VACUUM waited for it until the statement timeout cancelled it (seen in the
    benchmark: "canceling statement due to statement timeout while truncating relation"),
    and the freed pages are reused by the next inserts anyway."""
    if available():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (TRUNCATE false) logs_rollup_pending")


def pending_count() -> int:
    if not available():
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_rollup_pending")
        return int(cursor.fetchone()[0])


def error_groups(*, client_id: int, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """(workflow_error_type, workflow_error_node, count, latest executed_at) of the failing logs."""
    return [
        {"workflow_error_type": dim1, "workflow_error_node": dim2, "count": g.count, "latest": g.last_seen}
        for (dim1, dim2), g in _groups(client_id, start, end, "E", "errors").items() if g.count
    ]
