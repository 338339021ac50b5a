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
executed_at) index). Pending and raw rows are aggregated by the same SQL function as the
rollup, in the same statement (one snapshot: a log is in the rollup or pending, never both).
Counts, sums, rates and averages are therefore exact. With a timeseries by hour, no `d` rows
are used.

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
from collections import defaultdict
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


def rank_value(total: int, fraction: float, lo_bin: int, hi_bin: int) -> float:
    """percentile_cont's interpolation between the bins holding its two ranks (what
    hist_percentile computes from a whole histogram; the database finds the bins)."""
    position = fraction * (total - 1)
    lo_value, hi_value = bin_value(lo_bin), bin_value(hi_bin)
    return lo_value + (hi_value - lo_value) * (position - math.floor(position))


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


_X = """
    SELECT bucket, dim1, dim2, status, bin, n, time_n, time_sum, first_at, last_at, kind
      FROM logs_rollup
     WHERE client_id = %(client)s AND kind = ANY(%(kinds)s) AND (
           (grain = 'd' AND bucket >= %(d0)s::timestamptz AND bucket < %(d1)s::timestamptz)
        OR (grain = 'h' AND bucket >= %(ha0)s::timestamptz AND bucket < %(ha1)s::timestamptz)
        OR (grain = 'h' AND bucket >= %(hb0)s::timestamptz AND bucket < %(hb1)s::timestamptz))
    UNION ALL
    SELECT bucket, dim1, dim2, status, bin, n, time_n, time_sum, first_at, last_at, kind
      FROM logs_rollup_rows(ARRAY(
           -- the partial hours at the edges, from the logs themselves
           SELECT ROW(w.client_id, w.executed_at, w.execution_time_seconds, w.status, w.category,
                      w.workflow_version, w.workflow_error_type, w.workflow_error_node)::logs_rollup_input
             FROM workflow_logs w
            WHERE w.client_id = %(client)s
              AND ((w.executed_at >= %(ra0)s::timestamptz AND w.executed_at < %(ra1)s::timestamptz)
                OR (w.executed_at >= %(rb0)s::timestamptz AND w.executed_at < %(rb1)s::timestamptz))
           UNION ALL
           -- logs of the whole days and hours that the flusher has not folded in yet
           SELECT ROW(p.client_id, p.executed_at, p.execution_time_seconds, p.status, p.category,
                      p.workflow_version, p.workflow_error_type, p.workflow_error_node)::logs_rollup_input
             FROM logs_rollup_pending p
            WHERE p.client_id = %(client)s
              AND ((p.executed_at >= %(d0)s::timestamptz AND p.executed_at < %(d1)s::timestamptz)
                OR (p.executed_at >= %(ha0)s::timestamptz AND p.executed_at < %(ha1)s::timestamptz)
                OR (p.executed_at >= %(hb0)s::timestamptz AND p.executed_at < %(hb1)s::timestamptz))))
     WHERE grain = 'h' AND kind = ANY(%(kinds)s)
"""

_SQL = """
WITH x AS ({x})
SELECT kind, {bucket} AS b, dim1, dim2, status, bin, sum(n)::bigint, sum(time_n)::bigint, sum(time_sum),
       min(first_at), max(last_at), NULL::int[]
  FROM x GROUP BY kind, b, dim1, dim2, status, bin
"""

# The same, with each histogram reduced in the database to the bins that percentile_cont's ranks
# fall in (a row of kind 'P' per group: n = the group's total, `bins` = [lower-rank bin,
# upper-rank bin] per fraction). A 90-day timeseries by hour has ~200,000 histogram rows; this
# sends 2,160 instead of merging them in Python.
_SQL_PERCENTILES = """
WITH x AS ({x}),
g AS (
    SELECT kind, {bucket} AS b, dim1, dim2, status, bin, sum(n)::bigint AS n, sum(time_n)::bigint AS time_n,
           sum(time_sum) AS time_sum, min(first_at) AS first_at, max(last_at) AS last_at
      FROM x GROUP BY kind, b, dim1, dim2, status, bin
),
h AS (
    SELECT b, dim1, bin, sum(n) OVER (PARTITION BY b, dim1 ORDER BY bin) AS cum,
           sum(n) OVER (PARTITION BY b, dim1) AS total
      FROM g WHERE kind = %(hist)s
)
SELECT kind, b, dim1, dim2, status, bin, n, time_n, time_sum, first_at, last_at, NULL::int[]
  FROM g WHERE kind <> %(hist)s
UNION ALL
SELECT 'P', b, dim1, NULL, NULL, NULL, max(total)::bigint, NULL, NULL, NULL, NULL, ARRAY[{bins}]
  FROM h GROUP BY b, dim1
"""
# Per fraction f: the bins holding ranks floor(f * (total - 1)) and the next one, in float8 as
# percentile_cont computes them (`h` arrives sorted by group and bin: one streaming aggregate).
_RANK_BINS = ("ARRAY[min(bin) FILTER (WHERE cum > floor({f} * (total - 1))), "
              "min(bin) FILTER (WHERE cum > least(floor({f} * (total - 1)) + 1, total - 1))]")


def _rows(client_id: int, start: dt.datetime, end: dt.datetime, kinds: str, *,
          interval: str | None = None, hist: str = "", fractions: tuple[float, ...] = ()) -> list[tuple[Any, ...]]:
    """The summed rollup rows of `kinds` over [start, end), per group; with `hist` and
    `fractions`, that histogram kind comes back as one 'P' row per group (see _SQL_PERCENTILES)."""
    parts = split_period(start, end, use_days=interval != "hour")
    params = {
        "client": client_id, "kinds": list(kinds),
        "d0": parts["days"][0], "d1": parts["days"][1],
        "ha0": parts["hours"][0][0], "ha1": parts["hours"][0][1],
        "hb0": parts["hours"][1][0], "hb1": parts["hours"][1][1],
        "ra0": parts["raw"][0][0], "ra1": parts["raw"][0][1],
        "rb0": parts["raw"][1][0], "rb1": parts["raw"][1][1],
    }
    # By hour, every row used is an `h` row, already the start of its hour.
    bucket = {None: "NULL::timestamptz", "hour": "bucket"}.get(interval, "date_trunc('day', bucket, 'UTC')")
    if hist and fractions:
        bins = ", ".join(_RANK_BINS.format(f=f"{float(f)!r}::float8") for f in fractions)
        sql = _SQL_PERCENTILES.format(x=_X, bucket=bucket, bins=bins)
        params.update(hist=hist)
    else:
        sql = _SQL.format(x=_X, bucket=bucket)
    # The dashboard's replica when one is configured (central_logger/replica.py), else default.
    using = router.db_for_read(WorkflowLog)
    # A 90-day series by hour aggregates ~150,000 rollup rows: its hash and sort get room in
    # memory (PostgreSQL's default 4 MB spills them to disk), for that statement's transaction.
    by_hour = interval == "hour"
    with transaction.atomic(using=using) if by_hour else nullcontext(), connections[using].cursor() as cursor:
        if by_hour:
            cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _empty() -> dict[str, Any]:
    return {"count": 0, "SUCCESS": 0, "PARTIAL": 0, "FAILED": 0, "ERROR": 0, "time_n": 0, "time_sum": 0.0,
            "first_seen": None, "last_seen": None}


def group_stats(*, client_id: int, start: dt.datetime, end: dt.datetime, group: str | None,
                fractions: tuple[float, ...] = ()) -> dict[Any, dict[str, Any]]:
    """Per-group figures of the logs of one client with start <= executed_at < end.

    `group`: None (the whole period), "category", "workflow_version", or "bucket:day" /
    "bucket:hour" (UTC timeseries buckets). Returns {group value: {"count", one count per
    status, "avg", "first_seen", "last_seen", "percentiles": {fraction: value}}}, the shape of
    logs.selectors._group_stats; first/last_seen only for "workflow_version".
    """
    interval = group.split(":")[1] if group and group.startswith("bucket:") else None
    kinds, hist_kind = {None: ("S", "H"), "category": ("C", ""), "workflow_version": ("V", "W")}.get(
        None if interval else group, ("S", "H"))
    if fractions and not hist_kind:
        raise ValueError(f"The rollup has no execution-time histogram per {group}.")
    wanted = kinds + (hist_kind if fractions else "")
    out: dict[Any, dict[str, Any]] = defaultdict(_empty)
    for kind, bucket, dim1, _dim2, status, b, n, time_n, time_sum, first_at, last_at, bins in _rows(
            client_id, start, end, wanted, interval=interval, hist=hist_kind, fractions=fractions):
        key = bucket.astimezone(UTC) if interval else (None if group is None else dim1)
        s = out[key]
        if kind == "P":
            s["hist_percentiles"] = {f: rank_value(n, f, lo, hi) for f, (lo, hi) in zip(fractions, bins)}
            continue
        s["count"] += n
        s[status] += n
        s["time_n"] += time_n
        s["time_sum"] += time_sum
        if first_at is not None and (s["first_seen"] is None or first_at < s["first_seen"]):
            s["first_seen"] = first_at
        if last_at is not None and (s["last_seen"] is None or last_at > s["last_seen"]):
            s["last_seen"] = last_at
    exact = None
    if fractions and sum(s["count"] for s in out.values()) <= settings.METRICS_EXACT_PERCENTILE_LIMIT:
        exact = _exact_percentiles(client_id, start, end, group, fractions)
    result = {}
    for key, s in out.items():
        if s["count"] == 0:
            continue
        from_hist = s.pop("hist_percentiles", {})
        time_n, time_sum = s.pop("time_n"), s.pop("time_sum")
        s["avg"] = time_sum / time_n if time_n else None
        if exact is not None:
            s["percentiles"] = {f: exact.get(key, {}).get(f) or 0.0 for f in fractions}
        else:
            s["percentiles"] = {f: from_hist.get(f) or 0.0 for f in fractions}
        result[key] = s
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
    it from bloating."""
    if available():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM logs_rollup_pending")


def pending_count() -> int:
    if not available():
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_rollup_pending")
        return int(cursor.fetchone()[0])


def error_groups(*, client_id: int, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """(workflow_error_type, workflow_error_node, count, latest executed_at) of the failing logs."""
    return [
        {"workflow_error_type": dim1, "workflow_error_node": dim2, "count": n, "latest": last_at}
        for _kind, _b, dim1, dim2, _status, _bin, n, _tn, _ts, _fa, last_at, _bins in _rows(
            client_id, start, end, "E")
    ]
