"""The search indexer: turns queued logs into search docs (logs/search.py, migration 0019).

Ingestion only queues a log's id (the insert trigger); here, in batches of BATCH, the queue's
rows are taken, each log's words are built and its doc is stored, in one transaction (a crash
puts the batch back). One runner across processes (advisory lock 727004, central_logger/locks.py),
in a background thread of each app process (the first to get the
lock works, the others skip their round), or `manage.py index_search --follow`.

When the queue is empty, the runner continues the backfill of logs stored before search
existed (newest first, so recent logs become searchable first), BACKFILL_SECONDS per round at
most, so fresh logs never wait behind it for long.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.db import OperationalError, transaction
from psycopg import errors as pg_errors

from central_logger.background import SKIPPED, ProcessLoop
from logs import search
from logs.tenant_sql import citus
from logs.tenant_sql import search as sql

BATCH = 1000
BACKFILL_SECONDS = 5.0


def _docs(logs: list[dict]) -> list[tuple]:
    return [(log["client_id"], log["id"], log["executed_at"], log["status"], search.document(log)) for log in logs]


def index_batch(limit: int = BATCH, slot: tuple[int, int] | None = None, attempts: int = 5) -> int:
    """Index up to `limit` queued logs (of `slot`, see index_slot); returns how many were taken.
    A batch that waited too long for a lock (sql.LOCK_TIMEOUT_MS: it yields to a TRUNCATE, a
    DDL or a delete holding its logs) is rolled back and tried again, `attempts` times in all."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                logs = sql.dangerously_take_pending(limit, slot)
                sql.dangerously_store_docs(_docs(logs))
            return len(logs)
        except OperationalError as exc:
            if not isinstance(exc.__cause__, pg_errors.LockNotAvailable) or attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def index_slot(slot: int, slots: int, limit: int = BATCH) -> int:
    """Index the queued logs whose id hashes to `slot` of `slots` until none is left: one of
    `index_search --processes N`'s workers. Safe beside the others because a log's queue rows
    all hash to one slot (never two processes on one log), and beside nothing else because the
    parent holds the runner lock for them (the app's indexer threads skip their rounds)."""
    total = 0
    while moved := index_batch(limit, (slot, slots)):
        total += moved
    return total


def backfill_batch(limit: int = BATCH) -> int | None:
    """Index the next `limit` logs of the backfill; None once it is done."""
    with transaction.atomic():
        logs = sql.dangerously_take_backfill(limit)
        if not logs:
            state = sql.dangerously_backfill_state()
            if not state[2]:
                sql.dangerously_advance_backfill(None, 0)
            return None
        sql.dangerously_store_docs(_docs(logs))
        sql.dangerously_advance_backfill(logs[-1], len(logs))
    return len(logs)


def index_all() -> int:
    """Index everything queued (tests, the command)."""
    total = 0
    while moved := index_batch():
        total += moved
    return total


def _round() -> object:
    if not sql.try_runner_lock():
        return SKIPPED
    try:
        try:
            while index_batch(attempts=1) == BATCH and not indexer.stopping:
                pass
        except OperationalError as exc:
            if not isinstance(exc.__cause__, pg_errors.LockNotAvailable):
                raise
            return SKIPPED  # it yielded to a TRUNCATE or a DDL (sql.LOCK_TIMEOUT_MS): next round
        # The backfill reads every tenant's logs in one statement, which a Citus cluster does not
        # run (README, "Scaling past one machine").
        deadline = time.monotonic() + (0 if citus.is_active_cached() else BACKFILL_SECONDS)
        while time.monotonic() < deadline and not indexer.stopping and backfill_batch() is not None:
            pass
    finally:
        sql.release_runner_lock()
    return None


indexer = ProcessLoop("search-indexer", lambda: settings.SEARCH_INDEX_INTERVAL, _round)
