"""The durable spool: where accepted logs wait while PostgreSQL is unavailable or too slow.

A spooled record has a `kind`: `log` (a workflow log, drained here into workflow_logs) or a
kind another app registers with spool/drain.py (`otel`: the spans and log records of one
OpenTelemetry export, drained by otel/storage.py). One file, one queue, one drainer, one
exactly-once discipline for every kind.

A local SQLite file (`SPOOL_PATH`) in WAL mode with `synchronous=FULL`: a log is acknowledged
(202) only after its spool transaction is on disk, so it survives a crash or a restart of the
service. Each spooled row keeps the log's pre-assigned UUIDv7 id, its client and API key ids,
its event_id and the validated field values.

spool/drain.py moves the spooled logs into PostgreSQL once it answers again. This module is the
file itself: its schema, writing (a group commit), and the look-ups ingestion makes while logs
wait here (idempotency: a retried event_id answers with the spooled log's id).

Connections are per thread (sqlite3 objects cannot be shared between threads) and per path.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings

from logs.rawjson import orjson_default

SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,      -- acceptance order
    id TEXT NOT NULL UNIQUE,                     -- the log's UUIDv7, answered to the client
    client_id INTEGER NOT NULL,
    api_key_id INTEGER,
    event_id TEXT,
    accepted_at TEXT NOT NULL,
    fields BLOB NOT NULL,                        -- orjson of the validated field values
    size INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'log'             -- what `fields` holds, and who drains it
);
CREATE INDEX IF NOT EXISTS spooled_logs_event ON spooled_logs (client_id, event_id) WHERE event_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS spool_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1), rows INTEGER NOT NULL, bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO spool_stats VALUES (1, 0, 0);
CREATE TRIGGER IF NOT EXISTS spooled_logs_ins AFTER INSERT ON spooled_logs BEGIN
    UPDATE spool_stats SET rows = rows + 1, bytes = bytes + NEW.size WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS spooled_logs_del AFTER DELETE ON spooled_logs BEGIN
    UPDATE spool_stats SET rows = rows - 1, bytes = bytes - OLD.size WHERE id = 1;
END;
-- Rows PostgreSQL refused for a reason that retrying cannot fix (kept for an operator).
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, client_id INTEGER NOT NULL, api_key_id INTEGER,
    event_id TEXT, accepted_at TEXT NOT NULL, fields BLOB NOT NULL, size INTEGER NOT NULL,
    reason TEXT NOT NULL, failed_at TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'log'
);
"""
# Files written before records had a kind: every row in them is a log.
KIND_COLUMNS = ("ALTER TABLE spooled_logs ADD COLUMN kind TEXT NOT NULL DEFAULT 'log'",
                "ALTER TABLE dead_letters ADD COLUMN kind TEXT NOT NULL DEFAULT 'log'")
LOG = "log"


class SpoolFull(Exception):
    """The spool reached SPOOL_MAX_BYTES: ingestion answers 503 + Retry-After."""


class SpoolUnavailable(Exception):
    """The spool file could not be read or written (busy past SPOOL_BUSY_TIMEOUT, unwritable,
    corrupt): nothing was stored."""


def _unavailable_on_error(function: Callable[..., Any]) -> Callable[..., Any]:
    """SQLite's errors leave this module as SpoolUnavailable: callers need not know the file's engine."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except sqlite3.Error as exc:
            raise SpoolUnavailable(f"{exc.__class__.__name__}: {exc}") from exc
    return wrapper


@dataclass
class SpoolStats:
    rows: int
    bytes: int
    max_bytes: int
    dead_letters: int = 0

    @property
    def full(self) -> bool:
        return self.bytes >= self.max_bytes


@dataclass
class SpoolItem:
    id: str
    event_id: str | None
    fields: dict[str, Any]
    kind: str = LOG


@dataclass
class SpoolPut:
    """Per item: the id answered and whether it was already spooled (same event_id)."""

    ids: list[str]
    duplicate: list[bool]


# --- connections ----------------------------------------------------------------------------------

_local = threading.local()


def spool_path() -> str:
    return str(settings.SPOOL_PATH)


def _connect(path: str) -> sqlite3.Connection:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    conn = sqlite3.connect(path, timeout=settings.SPOOL_BUSY_TIMEOUT, isolation_level=None,
                           check_same_thread=True)
    # FULL: the WAL is fsynced at every commit, so a 202 means the log is on disk.
    conn.execute("PRAGMA synchronous=FULL")
    # Create the file's schema once (a read check first: dozens of threads connect at the same
    # moment when an outage starts, and must not queue behind one another's DDL).
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dead_letters'").fetchone() is None:
        conn.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
        conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")  # one transaction, one fsync
    elif not _has_kind(conn):
        with write_transaction(conn):
            if not _has_kind(conn):  # another thread or process may have added it meanwhile
                for statement in KIND_COLUMNS:
                    conn.execute(statement)
    return conn


def _has_kind(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "kind" for row in conn.execute("PRAGMA table_info(dead_letters)"))


def connection() -> sqlite3.Connection:
    """This thread's connection to the spool file (opened, and its schema created, once)."""
    path = spool_path()
    conns: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    conn = conns.get(path)
    if conn is None:
        conn = conns[path] = _connect(path)
    return conn


def close_connections() -> None:
    """Close this thread's spool connections (tests reopen the file, as a restart would)."""
    for conn in (getattr(_local, "conns", None) or {}).values():
        conn.close()
    _local.conns = {}


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE takes the write lock up front, so the size check and the insert see one state.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# --- reading the state ------------------------------------------------------------------------------

def spool_writable() -> bool:
    """This process may write the spool file (and the WAL files beside it), or create it.

    A volume mounted root-owned for a non-root service, or read-only, leaves the file readable
    and the service apparently healthy while no log could be spooled: readiness checks this."""
    path = os.path.abspath(spool_path())
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        parent = os.path.dirname(directory)
        return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)
    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    return all(not os.path.exists(p) or os.access(p, os.W_OK) for p in (path, path + "-wal", path + "-shm"))


def spool_stats() -> SpoolStats:
    conn = connection()
    rows, size = conn.execute("SELECT rows, bytes FROM spool_stats WHERE id = 1").fetchone()
    dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    return SpoolStats(rows=rows, bytes=size, max_bytes=settings.SPOOL_MAX_BYTES, dead_letters=dead)


@_unavailable_on_error
def spool_oldest_accepted_at() -> dt.datetime | None:
    """When the oldest log still waiting in the spool was accepted (None: the spool is empty)."""
    row = connection().execute("SELECT accepted_at FROM spooled_logs ORDER BY seq LIMIT 1").fetchone()
    return dt.datetime.fromisoformat(row[0]) if row else None


@_unavailable_on_error
def spool_has_pending() -> bool:
    return bool(connection().execute("SELECT rows FROM spool_stats WHERE id = 1").fetchone()[0])


@_unavailable_on_error
def spool_find_event_ids(*, client_id: int, event_ids: list[str]) -> dict[str, str]:
    """event_id -> spooled log id, for this tenant's logs that are still in the spool."""
    if not event_ids:
        return {}
    conn = connection()
    found: dict[str, str] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for event_id, log_id in conn.execute(
            f"SELECT event_id, id FROM spooled_logs WHERE client_id = ? AND event_id IN ({marks})",
            (client_id, *chunk),
        ):
            found[event_id] = log_id
    return found


@_unavailable_on_error
def spool_load(*, client_id: int, log_id: str) -> dict[str, Any] | None:
    """The field values of one of this tenant's spooled logs (to answer a duplicate), or None."""
    row = connection().execute("SELECT fields, accepted_at FROM spooled_logs WHERE client_id = ? AND id = ?",
                          (client_id, log_id)).fetchone()
    if row is None:
        return None
    fields = decode_fields(row[0], row[1])
    fields["extra"].pop("_spooled", None)
    return fields


# --- writing ------------------------------------------------------------------------------------------

def _encode(fields: dict[str, Any]) -> bytes:
    # A batch's JSON kept as text (logs/rawjson.py) is written as it came; it is read back decoded.
    return orjson.dumps(fields, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS, default=orjson_default)


@dataclass(eq=False)  # compared by identity: the queue holds each put once
class _Put:
    """One request's logs, waiting for the group commit that writes them."""

    client_id: int
    api_key_id: int | None
    items: list[SpoolItem]
    encoded: list[bytes]
    accepted_at: str
    result: SpoolPut | None = None
    error: Exception | None = None
    done: bool = False


# Group commit, per process. A put joins the queue, then takes the commit lock: whoever holds
# it writes everything queued in one transaction (one fsync), so a put may find its logs
# already written by the put before it and just return. When PostgreSQL stalls, dozens of
# requests spool at once: with a transaction each they queued for the file's lock one fsync at
# a time, and past SPOOL_BUSY_TIMEOUT answered 503.
_queue: list[_Put] = []
_queue_lock = threading.Lock()
_commit_lock = threading.Lock()


@_unavailable_on_error
def spool_put(*, client_id: int, api_key_id: int | None, items: list[SpoolItem]) -> SpoolPut:
    """Durably store logs; an item whose event_id this tenant already spooled is a duplicate.

    Raises SpoolFull (nothing stored) when the items would take the spool past SPOOL_MAX_BYTES,
    and SpoolUnavailable when no commit could take them within SPOOL_BUSY_TIMEOUT or the file
    failed (nothing stored either). Concurrent calls in one process share one transaction.
    """
    put = _Put(client_id, api_key_id, items, [_encode(item.fields) for item in items],
               dt.datetime.now(dt.timezone.utc).isoformat())
    with _queue_lock:
        _queue.append(put)
    if not _commit_lock.acquire(timeout=settings.SPOOL_BUSY_TIMEOUT):
        with _queue_lock:
            if put in _queue:  # no commit has taken it: give up; nothing of it is stored
                _queue.remove(put)
                raise SpoolUnavailable("The spool stayed busy; the logs were not spooled.")
        # The commit in progress took it: its outcome is this put's answer.
        _commit_lock.acquire()
    try:
        if not put.done:
            with _queue_lock:
                group = _queue[:]
                _queue.clear()
            _commit(group)
    finally:
        _commit_lock.release()
    if put.error is not None:
        raise put.error
    assert put.result is not None
    return put.result


def _commit(group: list[_Put]) -> None:
    """Write the puts of `group` in one transaction; each gets its result or its error."""
    conn = connection()
    try:
        with write_transaction(conn):
            _rows, size = conn.execute("SELECT rows, bytes FROM spool_stats WHERE id = 1").fetchone()
            for put in group:
                adding = sum(len(blob) for blob in put.encoded)
                if size + adding > settings.SPOOL_MAX_BYTES:
                    put.error = SpoolFull(f"The spool is full ({size} of {settings.SPOOL_MAX_BYTES} bytes).")
                    continue
                size += adding
                put.result = _insert_put(conn, put)
    except Exception as exc:  # rolled back: nothing of the group is stored
        for put in group:
            put.result, put.error = None, exc
    finally:
        for put in group:
            if put.result is None and put.error is None:  # interrupted (BaseException)
                put.error = sqlite3.OperationalError("The spool write was interrupted.")
            put.done = True


def _insert_put(conn: sqlite3.Connection, put: _Put) -> SpoolPut:
    """Insert one put's logs inside the group's transaction, skipping the event_ids this tenant
    already spooled (earlier in the same transaction included)."""
    known = spool_find_event_ids(client_id=put.client_id,
                                 event_ids=[i.event_id for i in put.items if i.event_id])
    ids: list[str] = []
    duplicate: list[bool] = []
    for item, blob in zip(put.items, put.encoded):
        if item.event_id and item.event_id in known:
            ids.append(known[item.event_id])
            duplicate.append(True)
            continue
        conn.execute(
            "INSERT INTO spooled_logs (id, client_id, api_key_id, event_id, accepted_at, fields, size, kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (item.id, put.client_id, put.api_key_id, item.event_id, put.accepted_at, blob, len(blob), item.kind),
        )
        if item.event_id:
            known[item.event_id] = item.id
        ids.append(item.id)
        duplicate.append(False)
    return SpoolPut(ids=ids, duplicate=duplicate)




def decode_fields(blob: bytes, accepted_at: str) -> dict[str, Any]:
    """A spooled log's field values, as ingestion validated them."""
    fields = orjson.loads(blob)
    fields["executed_at"] = dt.datetime.fromisoformat(fields["executed_at"].replace("Z", "+00:00"))
    extra = dict(fields.get("extra") or {})
    # Operators can tell which logs waited in the spool, and since when.
    extra["_spooled"] = {"accepted_at": accepted_at}
    fields["extra"] = extra
    return fields
