"""Single logs in group commits: concurrent POST /api/v1/logs of one process share one INSERT and
one COMMIT, as the spool's writes already do (spool/store.py).

Each request prepares its row (id, scrubbed fields), joins the queue and takes a commit slot
(`INGEST_GROUP_COMMIT_SLOTS`, 2: groups in flight at once, each on its own pooled connection).
A slot's holder sends what is queued for its tenant (its own row first, at most
`INGEST_GROUP_COMMIT_MAX_ROWS`) in one transaction and gives each row its answer; a request
whose row a commit before it took just waits for that answer. There is no wait window: a row
that finds a slot free goes at once, alone by the one-row statement of before
(`writes.insert_one_committed`), so one client posting one log at a time pays nothing; under
load the groups grow by themselves with the rows that arrive while the slots' commits are in
flight, up to the cap.

What each request still gets on its own:
* its id (assigned before it queued) and, when the group committed, a 201 that means committed;
* its duplicate answer: a row whose event id was stored already (or claimed by an earlier row of
  the same group) is not inserted, and the request tells the duplicate by its usual path;
* its error answer: if the group's statement fails for a reason other than the database being
  unavailable, nothing of the group is stored and every request stores its row alone, so a bad
  row fails only itself;
* its bound: no request waits for a slot longer than its own database budget
  (`dbguard.remaining()`); one that no commit took by then stores nothing and spools, like one
  the database did not answer. When the database is unavailable (the group's connection failed,
  or the breaker is open) every request of the group gets OperationalError: the caller spools.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from psycopg import errors as pg_errors

from central_logger import dbguard
from central_logger.monitoring import GROUP_COMMIT_ROWS, GROUP_COMMITS
from logs.tenant_sql import writes
from tenants.models import Client

logger = logging.getLogger("central_logger.ingest")
# A group waits at most this long for a lock another transaction holds (most often an event id
# claimed by a transaction still open elsewhere: a retry racing its first attempt). Past it, or
# on the other errors below, the group is retried row by row rather than spooled: the database
# answered, and the cause may be one row's. Each row then stores alone within what is left of its
# own request's budget, so only the row that needs the lock waits for it (and is spooled if it
# waits past its budget), its neighbours are committed.
GROUP_LOCK_TIMEOUT_MS = 100
_RETRY_ALONE = (pg_errors.LockNotAvailable, pg_errors.QueryCanceled, pg_errors.DeadlockDetected,
                pg_errors.SerializationFailure)
# A request without a deadline of its own (none outside HTTP requests) waits at most the ingestion
# budget plus this.
_GRACE_SECONDS = 0.25


@dataclass(eq=False)
class _Entry:
    client: Client
    row: dict[str, Any]
    inserted: bool | None = None
    error: Exception | None = None
    alone: bool = False  # the group failed: store this row by itself
    taken: bool = False  # a committer has it (under _queue_lock)
    done: threading.Event = field(default_factory=threading.Event)


_queue: list[_Entry] = []
_queue_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _commit_slots() -> threading.BoundedSemaphore:
    """How many groups of this process may be in flight at once (INGEST_GROUP_COMMIT_SLOTS): more
    than one, so a group held up in the database (a row waiting on another transaction's lock,
    up to statement_timeout) does not hold up every other single log of the process."""
    global _slots
    if _slots is None:
        with _slots_lock:
            if _slots is None:
                _slots = threading.BoundedSemaphore(max(settings.INGEST_GROUP_COMMIT_SLOTS, 1))
    return _slots


def insert(client: Client, row: dict[str, Any]) -> bool:
    """Commit one log of `client` (`row` from `writes.stored_row()`), alone or with the single
    logs other threads of this process are storing now. True when committed, False when its
    event id was stored already. Raises Django's OperationalError or InterfaceError when the
    database is unavailable (nothing of this row committed by us), and the row's own error.

    The caller must not be inside a transaction."""
    if settings.INGEST_GROUP_COMMIT_MAX_ROWS <= 1:  # group commit off: each log alone, no slot to wait for
        return writes.insert_one_committed(client, row, row["created_at"], timeout_ms=settings.INGEST_DB_TIMEOUT_MS)
    entry = _Entry(client, row)
    with _queue_lock:
        _queue.append(entry)
    slots = _commit_slots()
    if not slots.acquire(blocking=False):
        # Every slot has a commit in flight: this request may wait a while, so its pooled
        # connection goes back for others (the committers, other requests' authentication)
        # instead of idling here. If it commits next it takes one again, a wait for the pool
        # that the request's budget bounds like every other (central_logger/postgres/pool.py).
        _return_connection()
        if not slots.acquire(timeout=_budget()):
            return _gave_up(entry)
    try:
        group = _take(entry)
        if group:
            _commit(group)
    finally:
        slots.release()
    if not entry.done.wait(_budget()):  # a commit in flight took it
        raise OperationalError("The group commit holding this log did not answer in time.")
    return _answer(entry)


def _gave_up(entry: _Entry) -> bool:
    """No slot within the budget: the log is spooled, unless a commit in flight has it."""
    with _queue_lock:
        if not entry.taken:  # no commit took it: nothing of it is stored
            _queue.remove(entry)
            raise OperationalError("No commit took the log within the ingestion budget.")
    # A commit in flight has it: its answer is used if it is in within this request's budget
    # (if that commit stores it later all the same, the spool's drain skips it by id).
    if not entry.done.wait(_budget()):
        raise OperationalError("The group commit holding this log did not answer in time.")
    return _answer(entry)


def _return_connection() -> None:
    if connection.connection is not None and not connection.in_atomic_block:
        connection.close()  # with the pool: back to it


def _budget() -> float:
    left = dbguard.remaining()
    if left is None:
        left = settings.INGEST_DB_TIMEOUT_MS / 1000 + _GRACE_SECONDS
    return max(left, 0.001)


def _take(entry: _Entry) -> list[_Entry]:
    """The group a slot's holder commits: its own row first, then the oldest queued of the same
    tenant (one tenant per statement: logs/tenant_sql takes one client; the others' rows wait
    for the next holder, which is one of them). Empty when a commit in flight took its row."""
    limit = max(settings.INGEST_GROUP_COMMIT_MAX_ROWS, 1)
    with _queue_lock:
        if entry.taken:
            return []
        group = [entry]
        for other in _queue:
            if len(group) >= limit:
                break
            if other is not entry and other.client.pk == entry.client.pk:
                group.append(other)
        for member in group:
            member.taken = True
        _queue[:] = [other for other in _queue if not other.taken]
    return group


def _answer(entry: _Entry) -> bool:
    if entry.alone:
        return writes.insert_one_committed(entry.client, entry.row, entry.row["created_at"],
                                           timeout_ms=settings.INGEST_DB_TIMEOUT_MS)
    if entry.error is not None:
        raise entry.error
    assert entry.inserted is not None
    return entry.inserted


def _commit(group: list[_Entry]) -> None:
    """Store the rows of `group` in one transaction; each entry gets its answer."""
    GROUP_COMMITS.inc()
    GROUP_COMMIT_ROWS.inc(len(group))
    try:
        _store(group)
    except Exception as exc:  # noqa: BLE001 - every entry gets its share of the outcome
        _failed(group, exc)
    finally:
        for entry in group:
            if entry.inserted is None and entry.error is None and not entry.alone:  # interrupted
                entry.error = OperationalError("The group commit was interrupted.")
            entry.done.set()


def _store(group: list[_Entry]) -> None:
    if dbguard.circuit_open(group[0].client.pk):  # a group that queued behind a failed one: do not try again
        raise OperationalError("The database is unavailable (circuit open).")
    if len(group) == 1:
        (entry,) = group
        entry.inserted = writes.insert_one_committed(entry.client, entry.row, entry.row["created_at"],
                                                     timeout_ms=settings.INGEST_DB_TIMEOUT_MS)
        return
    inserted = writes.insert_group_committed(group[0].client, [entry.row for entry in group],
                                             timeout_ms=settings.INGEST_DB_TIMEOUT_MS,
                                             lock_timeout_ms=GROUP_LOCK_TIMEOUT_MS)
    for entry in group:
        entry.inserted = entry.row["id"] in inserted


def _failed(group: list[_Entry], exc: Exception) -> None:
    """The database unavailable: every request gets the error (and spools). Anything else (a
    row's own error, a lost lock race) fails only the group: each row is then stored alone."""
    if len(group) == 1:
        group[0].error = exc
    elif isinstance(exc, (OperationalError, InterfaceError)) and not isinstance(exc.__cause__, _RETRY_ALONE):
        for entry in group:
            entry.error = exc if entry is group[0] else _copy(exc)
    else:
        _all_alone(group, exc)


def _copy(exc: Exception) -> Exception:
    """A fresh exception for each request (each raises its own), with the database's error as its
    cause: the breaker tells a Citus worker down from the database down by it (dbguard)."""
    copy = type(exc)(*exc.args)
    copy.__cause__ = exc.__cause__
    return copy


def _all_alone(group: list[_Entry], exc: Exception) -> None:
    logger.warning("ingest: a group commit of %d logs failed (%s); storing each alone", len(group),
                   (exc.__cause__ or exc).__class__.__name__)
    for entry in group:
        entry.alone = True
