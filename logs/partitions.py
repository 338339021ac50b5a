"""Time partitions of `workflow_logs`: which exist, which to create, and how rows change partition.

The table is partitioned by range of `executed_at` (migration 0014), one partition per
LOG_PARTITION_INTERVAL (`month` or `week`, UTC), named `workflow_logs_<from>_<to>` (dates as
YYYYMMDD, `min` / `max` for an open end). Three rules keep every log storable:

* **Ahead**: the maintenance (a background thread, one runner across processes, or
  `manage.py maintain_partitions`) keeps partitions for the current interval and the
  LOG_PARTITIONS_AHEAD after it.
* **On demand**: a log whose date has no partition gets one before it is inserted
  (`ensure_covered`, called by the one insert statement's callers in logs/tenant_sql/writes.py),
  so no log is ever refused for its date. There is no DEFAULT partition: PostgreSQL cannot
  DETACH ... CONCURRENTLY while one exists, and retention needs that.
* **Bounded**: a date within the zone of regular partitions (12 intervals back to
  12 after the ahead window) gets its interval's partition; a date outside it (a backfill from
  years ago, a clock in the year 2090) gets one catch-all partition for the whole free range
  beyond the zone, so odd dates cannot multiply partitions. When the ahead window reaches a
  future catch-all, the maintenance detaches it and moves its rows into regular partitions.

A detached table is settled by `settle_detached`: rows its clients keep (`cutoffs`) move into
the partitions that now cover them; the rest are retention's to remove (their idempotency keys
are deleted, and the rollup of their days recounted once they are no longer visible); then the
table is dropped. Every step is idempotent: a run stopped halfway is finished by the next.
"""
from __future__ import annotations

import bisect
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection

from central_logger import dbguard
from central_logger.background import ProcessLoop

from logs.tenant_sql import partitions as sql
from logs.tenant_sql import search as search_sql

logger = logging.getLogger("central_logger.partitions")
UTC = dt.timezone.utc
ZONE_BACK = 12  # intervals before the current one that get regular partitions on demand
ZONE_BEYOND = 12  # intervals after the ahead window that do
COVERAGE_SECONDS = 10.0  # a process re-reads which ranges have a partition at least this often
EVENT_ID_BATCH = 20_000
DETACHED_SUFFIX = "_old"


def floor(when: dt.datetime, interval: str | None = None) -> dt.datetime:
    """The start of the interval (UTC) that holds `when`."""
    interval = interval or settings.LOG_PARTITION_INTERVAL
    when = when.astimezone(UTC)
    if interval == "month":
        return dt.datetime(when.year, when.month, 1, tzinfo=UTC)
    day = dt.datetime(when.year, when.month, when.day, tzinfo=UTC)
    return day - dt.timedelta(days=day.weekday())


def step(start: dt.datetime, n: int = 1, interval: str | None = None) -> dt.datetime:
    """The interval boundary `n` intervals after (or before) the boundary `start`."""
    interval = interval or settings.LOG_PARTITION_INTERVAL
    if interval == "month":
        months = start.year * 12 + start.month - 1 + n
        return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
    return start + dt.timedelta(weeks=n)


@dataclass(frozen=True)
class Partition:
    name: str
    lo: dt.datetime | None  # None: MINVALUE
    hi: dt.datetime | None  # None: MAXVALUE
    detaching: bool = False

    def covers(self, when: dt.datetime) -> bool:
        return (self.lo is None or self.lo <= when) and (self.hi is None or when < self.hi)

    def label(self) -> str:
        return f"[{_day(self.lo, 'MINVALUE')}, {_day(self.hi, 'MAXVALUE')})"


def _day(value: dt.datetime | None, infinite: str) -> str:
    return infinite if value is None else f"{value:%Y-%m-%d}"


def name_for(lo: dt.datetime | None, hi: dt.datetime | None) -> str:
    return f"{sql.TABLE}_{'min' if lo is None else f'{lo:%Y%m%d}'}_{'max' if hi is None else f'{hi:%Y%m%d}'}"


def partitions() -> list[Partition]:
    return [Partition(*row) for row in sql.partition_rows()]


def window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The range that must have partitions ahead: the current interval and the ahead ones."""
    start = floor(now)
    return start, step(start, settings.LOG_PARTITIONS_AHEAD + 1)


def plan_for(when: dt.datetime, parts: list[Partition], now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The bounds of the partition to create for a log of `when`, which no partition covers."""
    below = [p.hi for p in parts if p.hi is not None and p.hi <= when]
    above = [p.lo for p in parts if p.lo is not None and p.lo > when]
    gap_lo, gap_hi = max(below, default=None), min(above, default=None)
    start, end = window(now)
    zone_lo, zone_hi = step(start, -ZONE_BACK), step(end, ZONE_BEYOND)
    if when >= zone_hi:  # far future: one catch-all beyond the zone
        return max(gap_lo, zone_hi) if gap_lo is not None else zone_hi, gap_hi
    if when < zone_lo:  # long ago: one catch-all before the zone
        return gap_lo, min(gap_hi, zone_lo) if gap_hi is not None else zone_lo
    lo, hi = floor(when), step(floor(when))
    return max(lo, gap_lo) if gap_lo is not None else lo, min(hi, gap_hi) if gap_hi is not None else hi


class PartitionUnavailable(IntegrityError):
    """A log's date has no partition and one could not be made right now (a lock held by a
    long operation, a detach of that range in progress): the caller spools the logs."""


def create_covering(dates: Iterable[dt.datetime], *, now: dt.datetime | None = None,
                    lock_timeout_ms: int | None = None) -> list[Partition]:
    """Create the partitions that the `dates` lack (one transaction holding the creation lock:
    a savepoint inside the caller's); returns the new ones."""
    now = now or dt.datetime.now(UTC)
    created: list[Partition] = []
    timeout = lock_timeout_ms or settings.LOG_PARTITION_LOCK_TIMEOUT_MS
    if (left := dbguard.remaining()) is not None:
        # Inside a request: the server gives up waiting before the request's deadline would
        # have to cut the connection (the caller spools the logs then).
        timeout = max(1, min(timeout, int(left * 800)))
    with sql.ddl_transaction(timeout):
        parts = partitions()  # under the lock: what other creators made meanwhile is seen
        for when in sorted(set(dates)):
            if any(p.covers(when) for p in parts):
                continue
            lo, hi = plan_for(when, parts, now)
            new = Partition(name_for(lo, hi), lo, hi)
            sql.dangerously_attach(new.name, lo, hi)
            parts.append(new)
            created.append(new)
            logger.info("partitions: created %s %s", new.name, new.label())
    if created:
        invalidate()
        _spans()  # now, while this request is the slow one anyway
    return created


# --- the ranges this process knows to have a partition (the insert path's check) ---------------

_coverage_lock = threading.Lock()
_coverage: tuple[float, list[dt.datetime], list[dt.datetime]] | None = None  # loaded at, span starts, ends
_MIN = dt.datetime.min.replace(tzinfo=UTC)
_MAX = dt.datetime.max.replace(tzinfo=UTC)


def invalidate() -> None:
    global _coverage
    with _coverage_lock:
        _coverage = None


def _spans() -> tuple[list[dt.datetime], list[dt.datetime]]:
    global _coverage
    current = _coverage
    if current is not None and time.monotonic() - current[0] < COVERAGE_SECONDS:
        return current[1], current[2]
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    parts = partitions()
    if not parts and not sql.is_partitioned():
        parts = [Partition(sql.TABLE, None, None)]  # one plain table holds every date
    for part in sorted((p for p in parts if not p.detaching), key=lambda p: p.lo or _MIN):
        lo, hi = part.lo or _MIN, part.hi or _MAX
        if ends and ends[-1] == lo:
            ends[-1] = hi  # contiguous: one span
        else:
            starts.append(lo)
            ends.append(hi)
    with _coverage_lock:
        _coverage = (time.monotonic(), starts, ends)
    return starts, ends


def _uncovered(dates: list[dt.datetime]) -> list[dt.datetime]:
    starts, ends = _spans()

    def span_of(when: dt.datetime) -> int:
        i = bisect.bisect_right(starts, when) - 1
        return i if i >= 0 and when < ends[i] else -1

    first = span_of(min(dates))
    if first >= 0 and first == span_of(max(dates)):
        return []  # the usual case: every date inside one contiguous run of partitions
    return [when for when in dates if span_of(when) < 0]


def ensure_covered(dates: list[dt.datetime]) -> None:
    """Before an insert: make sure every date has a partition (on demand, rarely: the ahead
    window covers current logs). Costs no query while this process's view is fresh."""
    if dates and (missing := _uncovered(dates)):
        try:
            create_covering(missing)
        except DatabaseError as exc:
            invalidate()
            raise PartitionUnavailable(f"no partition for {min(missing):%Y-%m-%d} yet: {exc}") from exc


def is_missing_partition(exc: BaseException) -> bool:
    """The database refused a row for lack of a partition (a partition this process still
    believed in was detached meanwhile), or one could not be made just now: worth another try
    later, never the client's fault."""
    if isinstance(exc, PartitionUnavailable):
        return True
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) == "23514" and "no partition of relation" in str(cause)


# --- settling a detached table -------------------------------------------------------------------

@dataclass
class Settled:
    name: str
    kept: int = 0  # rows moved into the partitions that now cover them
    removed: dict[int, int] = field(default_factory=dict)  # client -> rows removed
    seconds: dict[str, float] = field(default_factory=dict)  # step -> seconds it took


def settle_detached(name: str, cutoffs: dict[int, dt.datetime], *, now: dt.datetime | None = None) -> Settled:
    """Finish a detached table: rows that their client keeps (not older than its cutoff; every
    row of a client without one) move into the partitions covering them (created when needed);
    the rest are removed for good: their idempotency keys are deleted, the rollup of their days
    is recounted from what is still visible, and the table is dropped."""
    if not name.endswith(DETACHED_SUFFIX):
        # Its name (its range) is free for a new partition of those dates, made meanwhile.
        sql.dangerously_rename(name, name + DETACHED_SUFFIX)
        name += DETACHED_SUFFIX
    result = Settled(name)
    started = time.monotonic()

    def lap(step: str) -> None:
        nonlocal started
        result.seconds[step] = time.monotonic() - started
        started = time.monotonic()

    sql.dangerously_drop_foreign_keys(name)
    while (oldest := sql.dangerously_oldest_survivor(name, cutoffs)) is not None:
        create_covering([oldest], now=now)
        target = next(p for p in partitions() if p.covers(oldest) and not p.detaching)
        result.kept += sql.dangerously_rehome(name, target.name, target.lo, target.hi, cutoffs)
    lap("kept rows moved")
    last = None
    while (last := sql.dangerously_forget_event_ids(name, after=last, limit=EVENT_ID_BATCH)) is not None:
        pass
    lap("event ids deleted")
    search_sql.dangerously_forget_docs_of(name)  # no search doc outlives its log
    lap("search docs deleted")
    for client_id, first, newest, rows in sql.dangerously_spans_by_client(name):
        sql.dangerously_recount_days(client_id, first, newest)
        result.removed[client_id] = rows
    lap("rollup recounted")
    sql.dangerously_drop(name)
    lap("dropped")
    invalidate()
    return result


def detach_and_settle(part: Partition, cutoffs: dict[int, dt.datetime], *, now: dt.datetime | None = None) -> Settled:
    """Take `part` out of the table without blocking anyone (DETACH ... CONCURRENTLY), then
    settle it. Logs of its range that arrive meanwhile get a new partition on demand."""
    invalidate()
    started = time.monotonic()
    if part.detaching:
        sql.dangerously_finalize(part.name)
    else:
        sql.dangerously_detach(part.name)
    detached = time.monotonic() - started
    settled = settle_detached(part.name, cutoffs, now=now)
    settled.seconds = {"detached": detached, **settled.seconds}
    return settled


# --- maintenance ---------------------------------------------------------------------------------

@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    reshaped: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    busy: bool = False  # another process is the runner


def maintain(*, now: dt.datetime | None = None) -> Maintenance:
    """One round, by the one runner across processes: settle what an interrupted run left
    detached, move the rows of a future catch-all that the ahead window reached into regular
    partitions, and create the partitions ahead."""
    now = now or dt.datetime.now(UTC)
    report = Maintenance()
    with runner(wait_ms=None) as held:
        if not held or not sql.is_partitioned():  # another runner; or before migration 0014
            report.busy = held is False
            return report
        for part in partitions():
            if part.detaching:
                sql.dangerously_finalize(part.name)
        for name in sql.detached_tables():
            settle_detached(name, {}, now=now)  # retention decides removals, not the maintenance
            report.settled.append(name)
        _, end = window(now)
        for part in partitions():
            if part.hi is None and part.lo is not None and part.lo < end:
                detach_and_settle(part, {}, now=now)
                report.reshaped.append(part.name)
        report.created = [p.name for p in create_covering([free for _, free in _gaps(now)], now=now)]
    return report


def _gaps(now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """(interval start, first instant no partition covers) of each interval of the ahead window
    that is not fully covered (after a change of LOG_PARTITION_INTERVAL, an old partition may
    cover part of an interval)."""
    start, end = window(now)
    parts = [p for p in partitions() if not p.detaching]
    out = []
    while start < end:
        when, nxt = start, step(start)
        while when < nxt and (covering := next((p for p in parts if p.covers(when)), None)) is not None:
            when = covering.hi or nxt
        if when < nxt:
            out.append((start, when))
        start = nxt
    return out


class runner:
    """The maintenance runner lock (one across processes), held on this connection for the block:
    `wait_ms=None` tries once, otherwise waits at most that long (retention's partition drops).
    The block gets whether the lock is held."""

    def __init__(self, *, wait_ms: int | None) -> None:
        self.wait_ms = wait_ms
        self.held = False

    def __enter__(self) -> bool:
        if self.wait_ms is None:
            self.held = sql.try_runner_lock()
            return self.held
        try:
            sql.wait_runner_lock(self.wait_ms)
        except OperationalError:  # lock_timeout: a maintenance round holds it
            return False
        self.held = True
        return True

    def __exit__(self, *exc: Any) -> None:
        if self.held and connection.connection is not None and not connection.connection.closed:
            sql.release_runner_lock()


def missing_ahead(*, now: dt.datetime | None = None) -> list[str]:
    """The intervals of the ahead window without a (fully attached) partition, as dates."""
    return [f"{start:%Y-%m-%d}" for start, _ in _gaps(now or dt.datetime.now(UTC))]


def readiness() -> dict[str, Any]:
    """Readiness detail: partitions ahead. Missing ones are a warning, not unreadiness: logs of
    those dates still get a partition on demand, and a 503 here would take every app server out
    of rotation at once for a maintenance hiccup."""
    out: dict[str, Any] = {"ok": True, "interval": settings.LOG_PARTITION_INTERVAL,
                           "ahead": settings.LOG_PARTITIONS_AHEAD}
    try:
        missing = missing_ahead() if sql.is_partitioned() else None
    except DatabaseError:  # readiness reports the database itself
        out["missing"] = None
        return out
    out["missing"] = missing
    if missing is None:
        out["warning"] = "workflow_logs is not partitioned yet: run `manage.py migrate` (logs 0014)"
        return out
    if missing:
        out["warning"] = f"partitions ahead missing: {', '.join(missing)}"
    return out


def _round() -> None:
    """The background thread's round. A failure (say, a lock timeout behind a long query) is
    logged by the loop and retried next round; ingestion never waits for it (a log whose date
    lacks a partition gets one on demand)."""
    report = maintain()
    if report.created or report.reshaped or report.settled:
        logger.info("partitions: created %s, reshaped %s, settled %s", report.created, report.reshaped, report.settled)


maintainer = ProcessLoop("partition-maintenance", lambda: settings.LOG_PARTITION_MAINTENANCE_INTERVAL, _round)
