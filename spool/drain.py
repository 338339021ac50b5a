"""Draining the spool: spooled logs move into PostgreSQL, oldest first, exactly once.

Rows are inserted in acceptance order (`seq`), in batches, with the same insert statement as
ingestion (logs/tenant_sql/writes.py), skipping any row already stored: a row whose id is stored
(the database committed a write the request had given up on, or a drain was interrupted between
the insert and the delete) is not stored twice, and a row whose event_id the tenant already
stored is a duplicate, as it would have been online. Only one drainer runs at a time (an
exclusive `flock` on `<SPOOL_PATH>.lock`), whether it is a worker's background thread or
`manage.py drain_spool`.

Records of other kinds than `log` are stored by the function their app registered
(`register_kind`, from its AppConfig.ready()), in the same transaction as the logs of the batch
and under the same rules: it must skip what is stored already, so that a record drained twice
(a crash between PostgreSQL's commit and the spool's delete) changes nothing the second time.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from central_logger import dbguard
from central_logger.background import SKIPPED, DatabaseUnavailable, ProcessLoop
from central_logger.monitoring import SPOOL_DRAINED
from logs import partitions
from logs.tenant_sql import writes
from scrubbing.services import RESCRUB, rescrub
from spool import store
from tenants.selectors import api_key_states, clients_by_id

logger = logging.getLogger("central_logger.spool")
REFUSED = "key revoked, or client deactivated or deleted, before the log was accepted"
# A spooled row: seq, id, client_id, api_key_id, event_id, accepted_at, fields, size, kind.
Row = tuple[Any, ...]
COLUMNS = "seq, id, client_id, api_key_id, event_id, accepted_at, fields, size, kind"
# kind -> stores one spooled record (its client, its decoded fields) in the caller's
# transaction; returns True when anything new was stored.
KindStore = Callable[[Any, dict[str, Any]], bool]
_kinds: dict[str, KindStore] = {}


def register_kind(kind: str, store_record: KindStore) -> None:
    """Let the spool drain records of `kind` (spooled by the app that registers it)."""
    _kinds[kind] = store_record


@dataclass
class DrainReport:
    busy: bool = False  # another drainer holds the lock
    inserted: int = 0
    skipped: int = 0  # already stored (same id, or the tenant's event_id)
    dead: int = 0
    remaining: int = 0
    error: str | None = None
    batches: list[int] = field(default_factory=list)


@contextlib.contextmanager
def _drain_lock() -> Iterator[bool]:
    path = store.spool_path() + ".lock"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refused(row: Row, keys: dict[int, tuple[int, dt.datetime | None]], clients: dict[int, Any]) -> bool:
    _seq, _id, client_id, key_id, _event, accepted_at, _blob, _size, _kind = row
    accepted = dt.datetime.fromisoformat(accepted_at)
    client = clients.get(client_id)
    if client is None:  # deleted: its logs were deleted with it
        return True
    if not client.is_active and (client.deactivated_at is None or client.deactivated_at <= accepted):
        return True
    if key_id is None:
        return False
    key = keys.get(key_id)
    return key is None or key[0] != client_id or (key[1] is not None and key[1] <= accepted)


def _allowed(rows: list[Row]) -> tuple[dict[int, Any], list[Row], list[Row]]:
    """The clients of `rows`, and the rows split into those whose client and key still allow
    them and the rest.

    A key revoked, or a client deactivated, *before* a log was spooled (a host's outage snapshot
    may not have heard of it yet) does not get its log stored; after it, the log is stored (the
    key was valid when we accepted the log). A deleted client's logs would have been deleted
    with it.
    """
    keys = api_key_states(key_ids={row[3] for row in rows if row[3] is not None})
    clients = clients_by_id(client_ids={row[2] for row in rows})
    ok, refused = [], []
    for row in rows:
        (refused if _refused(row, keys, clients) else ok).append(row)
    return clients, ok, refused


def _insert(clients: dict[int, Any], rows: list[Row]) -> int:
    """Insert rows into PostgreSQL in one transaction, a statement per client for logs and a
    call of its kind's store for any other record; returns how many were new."""
    by_client: dict[int, list[dict[str, Any]]] = defaultdict(list)
    others: list[Row] = []
    now = timezone.now()
    for row in rows:
        _seq, log_id, client_id, _key, _event, accepted_at, blob, _size, kind = row
        if kind != store.LOG:
            others.append(row)
            continue
        fields = store.decode_fields(blob, accepted_at)
        if fields.get(RESCRUB):  # spooled while the tenant's scrubbing settings were unreadable
            rescrub(clients[client_id], fields)
        by_client[client_id].append(writes.stored_row({**fields, "id": log_id}, now))
    inserted = 0
    with transaction.atomic():
        for client_id, stored in by_client.items():
            inserted += len(writes.insert_rows(clients[client_id], stored, now, skip_known_ids=True))
        for row in others:
            inserted += bool(_kinds[row[8]](clients[row[2]], orjson.loads(row[6])))
    return inserted


def _retry_later(exc: DatabaseError) -> bool:
    """A partition of the rows' dates was detached as they were inserted: not the rows' fault.
    The next round looks at the partitions again (and creates the missing one)."""
    if partitions.is_missing_partition(exc):
        partitions.invalidate()
        return True
    return False


def _bury(conn: sqlite3.Connection, rows: list[Row], reason: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    conn.executemany(
        "INSERT OR REPLACE INTO dead_letters (seq, id, client_id, api_key_id, event_id, accepted_at, fields, size, "
        "kind, reason, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row, reason, now) for row in rows],
    )


def _insert_one_by_one(conn: sqlite3.Connection, clients: dict[int, Any], rows: list[Row],
                       report: DrainReport) -> int:
    """After a batch failed for a reason other than the connection: each row on its own, so one
    bad row does not block the rest; the rows PostgreSQL refuses become dead letters."""
    inserted = 0
    for row in rows:
        try:
            inserted += _insert(clients, [row])
        except (OperationalError, InterfaceError):
            raise
        except DatabaseError as exc:
            if _retry_later(exc):
                raise
            logger.error("spool: log %s refused by the database: %s", row[1], exc.__class__.__name__)
            with store.write_transaction(conn):
                _bury(conn, [row], exc.__class__.__name__)
                conn.execute("DELETE FROM spooled_logs WHERE seq = ?", (row[0],))
            report.dead += 1
    return inserted


def _drain_batch(conn: sqlite3.Connection, rows: list[Row], report: DrainReport) -> None:
    clients, ok, refused = _allowed(rows)
    unknown = [row for row in ok if row[8] != store.LOG and row[8] not in _kinds]
    if unknown:  # spooled by an app this process does not run: kept for an operator
        ok = [row for row in ok if row not in unknown]
        with store.write_transaction(conn):
            _bury(conn, unknown, "no drain registered for this kind of record")
        report.dead += len(unknown)
    try:
        inserted = _insert(clients, ok) if ok else 0
    except (OperationalError, InterfaceError):
        raise
    except DatabaseError as exc:
        if _retry_later(exc):
            raise
        inserted = _insert_one_by_one(conn, clients, ok, report)
    with store.write_transaction(conn):
        if refused:
            _bury(conn, refused, REFUSED)
        conn.executemany("DELETE FROM spooled_logs WHERE seq = ?", [(row[0],) for row in rows])
    report.dead += len(refused)
    report.inserted += inserted
    report.skipped += len(ok) - inserted
    report.batches.append(len(rows))


def _next_rows(conn: sqlite3.Connection, batch_size: int, skip: set[int]) -> list[Row]:
    if not skip:
        return conn.execute(f"SELECT {COLUMNS} FROM spooled_logs ORDER BY seq LIMIT ?", (batch_size,)).fetchall()
    marks = ", ".join("?" * len(skip))
    return conn.execute(f"SELECT {COLUMNS} FROM spooled_logs WHERE client_id NOT IN ({marks}) ORDER BY seq LIMIT ?",
                        (*sorted(skip), batch_size)).fetchall()


def _drain_by_client(conn: sqlite3.Connection, rows: list[Row], report: DrainReport, skip: set[int]) -> None:
    """A batch failed because a database node is unreachable (a Citus worker down): each client's
    rows on their own, so the tenants of the live nodes drain; a client whose node is down joins
    `skip` and its rows stay spooled, in order, for a later round."""
    by_client: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_client[row[2]].append(row)
    for client_id, mine in by_client.items():
        try:
            _drain_batch(conn, mine, report)
        except (OperationalError, InterfaceError) as exc:
            if not dbguard.node_failure(exc):
                raise
            skip.add(client_id)


def spool_drain(*, batch_size: int | None = None, max_batches: int | None = None) -> DrainReport:
    """Move spooled logs into PostgreSQL, oldest first, exactly once. Safe to run anywhere, any time."""
    report = DrainReport()
    batch_size = batch_size or settings.SPOOL_DRAIN_BATCH
    conn = store.connection()
    skip: set[int] = set()  # clients whose database node is unreachable (this round)
    with _drain_lock() as locked:
        if not locked:
            report.busy = True
            return report
        while max_batches is None or len(report.batches) < max_batches:
            rows = _next_rows(conn, batch_size, skip)
            if not rows:
                break
            try:
                try:
                    _drain_batch(conn, rows, report)
                except (OperationalError, InterfaceError) as exc:
                    if not dbguard.node_failure(exc):
                        raise
                    _drain_by_client(conn, rows, report, skip)
            except (OperationalError, InterfaceError) as exc:
                dbguard.mark_failure()
                report.error = exc.__class__.__name__
                break
            except DatabaseError as exc:
                if not partitions.is_missing_partition(exc):
                    raise
                report.error = "missing partition"  # looked up again next round
                break
            dbguard.mark_success()
    if skip and not report.error:
        report.error = f"a database node of {len(skip)} clients is unreachable"
    report.remaining = store.spool_stats().rows
    if report.inserted or report.dead:
        SPOOL_DRAINED.labels("stored").inc(report.inserted)
        SPOOL_DRAINED.labels("dead_letter").inc(report.dead)
        logger.info("spool: drained %d logs (%d already stored, %d dead letters), %d remaining",
                    report.inserted, report.skipped, report.dead, report.remaining)
    return report


def _drain_round() -> object:
    if not store.spool_has_pending():
        return None
    with dbguard.db_deadline(settings.SPOOL_DRAIN_DEADLINE):
        report = spool_drain()
    if report.busy:  # another process drains: this one learnt nothing about the database
        return SKIPPED
    if report.error:  # the logs stay spooled; the loop logs the outage once, not every round
        raise DatabaseUnavailable(f"{report.error}; {report.remaining} logs waiting in the spool")
    return None


drainer = ProcessLoop("spool-drainer", lambda: settings.SPOOL_DRAIN_INTERVAL, _drain_round)
