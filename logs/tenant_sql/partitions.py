"""The statements that shape `workflow_logs`' time partitions (logs/partitions.py decides when).

The catalog readers (`partition_rows`, `detached_tables`) and the locks take no tenant data.
Everything that reads or moves rows of a partition does so for every tenant at once, so its name
starts with `dangerously_`: only the partition maintenance and retention's partition drop call
them, never a request for one tenant's data.

How each change avoids blocking ingestion and reads (PostgreSQL 15+):

* a new partition is created as a table of its own (LIKE the parent), given a CHECK constraint
  equal to its bounds, then ATTACHed: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, which
  inserts and selects do not conflict with (`CREATE TABLE ... PARTITION OF` would need ACCESS
  EXCLUSIVE on the parent and wait behind every running insert); the CHECK spares ATTACH a scan;
* a partition leaves with `DETACH PARTITION ... CONCURRENTLY` (the parent has no default
  partition: PostgreSQL refuses CONCURRENTLY when one exists; logs of a date without a partition
  get one on demand instead, logs/partitions.py);
* rows that must change partition (a detached range's rows that retention keeps) are inserted
  straight into their new partition: statement triggers of the parent do not fire, so the
  rollup, which counts them already, is left as it is.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from central_logger import locks
from logs.models import WorkflowLog
from logs.tenant_sql import citus

TABLE = WorkflowLog._meta.db_table
EVENT_IDS = "logs_event_ids"
# Advisory locks (central_logger/locks.py): one maintenance runner across processes, and the
# creation of partitions (maintenance and on-demand creators) one at a time.
_NAME = re.compile(r"^workflow_logs_[a-z0-9_]{1,40}$")
_COLUMN_LIST = ", ".join(f.column for f in WorkflowLog._meta.concrete_fields)
# Survivors of a detached range: the rows whose client keeps them (not listed, or the row is not
# older than the client's cutoff). Parameters: client ids, their cutoffs.
_SURVIVOR = ("NOT EXISTS (SELECT 1 FROM unnest(%s::bigint[], %s::timestamptz[]) AS r(client_id, cutoff) "
             "WHERE r.client_id = t.client_id AND t.executed_at < r.cutoff)")


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a partition name of {TABLE}: {name!r}")
    return connection.ops.quote_name(name)


def _bound(value: dt.datetime | None, infinite: str) -> str:
    return infinite if value is None else f"'{value.astimezone(dt.timezone.utc).isoformat()}'"


def _cutoff_params(cutoffs: dict[int, dt.datetime]) -> list[Any]:
    return [list(cutoffs), list(cutoffs.values())]


# --- catalog and locks ---------------------------------------------------------------------------

def partition_rows() -> list[tuple[str, dt.datetime | None, dt.datetime | None, bool]]:
    """(name, lower bound, upper bound, detach pending) of every partition; None = MINVALUE or
    MAXVALUE. The bounds are read from the names this code gives (`workflow_logs_<from>_<to>`):
    deparsing them (pg_get_expr) would take a lock on each partition and wait behind anyone
    holding the table exclusively, and the insert path asks this. A partition named otherwise
    (made by hand) is deparsed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname::text, i.inhdetachpending, CASE WHEN c.relname !~ %s "
                       "THEN pg_get_expr(c.relpartbound, c.oid) END FROM pg_inherits i "
                       "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
                       [_BOUNDS_IN_NAME.pattern, TABLE])
        rows = [(name, *_bounds(name, expr), pending) for name, pending, expr in cursor.fetchall()]
    return sorted(rows, key=lambda row: row[1] or dt.datetime.min.replace(tzinfo=dt.timezone.utc))


_BOUNDS_IN_NAME = re.compile(r"^workflow_logs_(min|[0-9]{8})_(max|[0-9]{8})$")
_BOUNDS_IN_SQL = re.compile(r"FROM \((MINVALUE|'[^']+')\) TO \((MAXVALUE|'[^']+')\)")


def _bounds(name: str, expr: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    if (match := _BOUNDS_IN_NAME.match(name)) is not None:
        return tuple(None if part in ("min", "max") else  # type: ignore[return-value]
                     dt.datetime.strptime(part, "%Y%m%d").replace(tzinfo=dt.timezone.utc) for part in match.groups())
    found = _BOUNDS_IN_SQL.search(expr or "")
    if found is None:
        raise ValueError(f"partition {name} has bounds this code cannot read: {expr}")
    return tuple(None if part.endswith("VALUE") else  # type: ignore[return-value]
                 dt.datetime.fromisoformat(part.strip("'").replace(" ", "T")) for part in found.groups())


def is_partitioned() -> bool:
    """False between migrations 0013 and 0014 (a rolling upgrade): one plain table still."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", [TABLE])
        return bool(cursor.fetchone()[0])


def detached_tables() -> list[str]:
    """Tables named like partitions that are not attached: a detach (retention, or the reshaping
    of a catch-all partition) that stopped before its rows were settled and the table dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'workflow\\_logs\\_%%' "
            "AND NOT c.relispartition ORDER BY 1")
        return [row[0] for row in cursor.fetchall() if _NAME.match(row[0])]


def try_runner_lock() -> bool:
    """The maintenance runner's session lock (released by `release_runner_lock`), if free."""
    return locks.try_lock(locks.PARTITION_RUNNER)


def wait_runner_lock(timeout_ms: int) -> None:
    """The runner lock, waiting at most `timeout_ms` (lock_timeout applies to advisory locks)."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = %s", [f"{int(timeout_ms)}ms"])
        try:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", list(locks.PARTITION_RUNNER))
        finally:
            cursor.execute("RESET lock_timeout")


def release_runner_lock() -> None:
    locks.unlock(locks.PARTITION_RUNNER)


@contextmanager
def ddl_transaction(lock_timeout_ms: int) -> Iterator[None]:
    """A transaction (a savepoint inside the caller's) holding the partition-creation lock, with
    a bounded wait for table locks."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = %s", [f"{int(lock_timeout_ms)}ms"])
        if citus.is_active_cached():
            # ATTACH distributes the new partition, whose shards have a foreign key to the
            # clients (a reference table): Citus then needs one connection per node for the
            # whole transaction. citus_setup makes that the database's default; said here again
            # so a session that changed it (or started before citus_setup) cannot make the
            # creation fail intermittently, whenever the executor had opened a second connection.
            cursor.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(locks.PARTITION_DDL))
        yield


# --- shaping partitions --------------------------------------------------------------------------

def dangerously_attach(name: str, lo: dt.datetime | None, hi: dt.datetime | None) -> None:
    """Create the partition `name` for [lo, hi) (None: MINVALUE / MAXVALUE), inside the caller's
    `ddl_transaction`. Its indexes are created by the ATTACH (the table is empty)."""
    table, low, high = _ident(name), _bound(lo, "MINVALUE"), _bound(hi, "MAXVALUE")
    check = " AND ".join([f"executed_at >= {low}"] * (lo is not None) + [f"executed_at < {high}"] * (hi is not None))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                       "INCLUDING STORAGE INCLUDING COMPRESSION)")
        if check:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {_ident(name + '_b')} CHECK ({check})")
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {table} FOR VALUES FROM ({low}) TO ({high})")
        if check:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_ident(name + '_b')}")


def dangerously_detach(name: str) -> None:
    """DETACH PARTITION ... CONCURRENTLY (outside any transaction): waits, without blocking
    anyone (its SHARE UPDATE EXCLUSIVE lock conflicts with no insert or read), for the queries
    that may still read the partition, however long an export takes. A detach cut short stays
    pending and is completed by `dangerously_finalize`."""
    # Citus has no DETACH ... CONCURRENTLY: there the detach takes the log table's ACCESS
    # EXCLUSIVE lock for a moment on every node (README, "Scaling past one machine").
    concurrently = "" if citus.is_active_cached() else " CONCURRENTLY"
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")
        cursor.execute("SET statement_timeout = 0")
        try:
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {_ident(name)}{concurrently}")
        finally:
            cursor.execute("RESET lock_timeout")
            cursor.execute("RESET statement_timeout")


def dangerously_finalize(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        try:
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {_ident(name)} FINALIZE")
        finally:
            cursor.execute("RESET statement_timeout")


def dangerously_drop_foreign_keys(name: str) -> None:
    """A detached table keeps the partition's foreign key to the clients: without it, deleting a
    client (or Django's test flush, one TRUNCATE of every table) does not trip over a table about
    to go. On Citus the shards' foreign keys get the names the DROP looks for first."""
    if citus.is_active_cached():
        citus.dangerously_align_shard_foreign_keys(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [name])
        for (constraint,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {_ident(name)} DROP CONSTRAINT {connection.ops.quote_name(constraint)}")


def dangerously_rename(name: str, new_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {_ident(name)} RENAME TO {_ident(new_name)}")


def dangerously_drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_ident(name)}")


# --- rows of a partition or a detached table -----------------------------------------------------

def dangerously_clients_in(name: str) -> list[int]:
    """The clients with logs in the table `name`: a loose scan of its (client, executed_at) index,
    one index probe per client instead of a pass over every row."""
    table = _ident(name)
    with connection.cursor() as cursor:
        if citus.is_active_cached():
            # Citus runs no recursive CTE across shards; each worker groups its own shards.
            cursor.execute(f"SELECT DISTINCT client_id FROM {table} ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"WITH RECURSIVE c(id) AS ((SELECT client_id FROM {table} ORDER BY client_id LIMIT 1) UNION ALL "
            f"SELECT (SELECT client_id FROM {table} WHERE client_id > c.id ORDER BY client_id LIMIT 1) "
            "FROM c WHERE c.id IS NOT NULL) SELECT id FROM c WHERE id IS NOT NULL")
        return [row[0] for row in cursor.fetchall()]


def dangerously_counts_by_client(name: str) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_id, count(*) FROM {_ident(name)} GROUP BY 1 ORDER BY 1")
        return dict(cursor.fetchall())


def dangerously_oldest_survivor(name: str, cutoffs: dict[int, dt.datetime]) -> dt.datetime | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(executed_at) FROM {_ident(name)} AS t WHERE {_SURVIVOR}", _cutoff_params(cutoffs))
        return cursor.fetchone()[0]


def dangerously_rehome(name: str, target: str, lo: dt.datetime | None, hi: dt.datetime | None,
                       cutoffs: dict[int, dt.datetime]) -> int:
    """Move the surviving rows of the detached table `name` in [lo, hi) into the partition
    `target` (one statement: deleted here and inserted there at one commit); returns how many.
    Straight into the partition: the parent's triggers do not fire (the rollup and the event ids
    already count these logs, with the same id and executed_at)."""
    conditions = ["executed_at >= %s"] * (lo is not None) + ["executed_at < %s"] * (hi is not None)
    bounds = [b for b in (lo, hi) if b is not None]
    where = " AND ".join([*conditions, _SURVIVOR])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {_ident(name)} AS t WHERE {where} RETURNING {_COLUMN_LIST}) "
            f"INSERT INTO {_ident(target)} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM moved",
            [*bounds, *_cutoff_params(cutoffs)])
        return cursor.rowcount


def dangerously_spans_by_client(name: str) -> list[tuple[int, dt.datetime, dt.datetime, int]]:
    """(client, first and last executed_at, logs) of the rows left in the detached table."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_id, min(executed_at), max(executed_at), count(*) FROM {_ident(name)} "
                       "GROUP BY 1 ORDER BY 1")
        return cursor.fetchall()


def dangerously_forget_event_ids(name: str, *, after: uuid.UUID | None, limit: int) -> uuid.UUID | None:
    """Delete the idempotency keys of the next `limit` logs (by id, after `after`) of the
    detached table `name`; returns the last id seen (None: done)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM (SELECT id FROM {_ident(name)} WHERE id > %s ORDER BY id LIMIT %s) AS s "
            "ORDER BY id DESC LIMIT 1",
            [after or uuid.UUID(int=0), limit])
        row = cursor.fetchone()
        if row is None:
            return None
        last = row[0]
        cursor.execute(
            f"DELETE FROM {EVENT_IDS} e USING {_ident(name)} t WHERE t.id > %s AND t.id <= %s "
            "AND t.event_id IS NOT NULL AND e.client_id = t.client_id AND e.event_id = t.event_id AND e.log_id = t.id",
            [after or uuid.UUID(int=0), last])
        return last if isinstance(last, uuid.UUID) else uuid.UUID(str(last))


def dangerously_recount_days(client_id: int, first: dt.datetime, last: dt.datetime) -> None:
    """Recount the rollup of one client over the UTC days from `first` to `last` (inclusive)
    from the logs now visible, holding the client's exclusive rollup lock (migration 0005), in
    one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("SELECT pg_advisory_xact_lock(727001, (%s %% 2147483647)::int)", [client_id])
        cursor.execute(
            "SELECT logs_rollup_recount(%s, d, least(d + interval '31 days', e)) FROM "
            "(SELECT date_trunc('day', %s::timestamptz, 'UTC') + interval '1 day' AS e) AS x, generate_series("
            "date_trunc('day', %s::timestamptz, 'UTC'), %s::timestamptz, interval '31 days') AS d",
            [client_id, last, first, last])


def dangerously_rows_in(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_ident(name)}")
        return int(cursor.fetchone()[0])


def partition_sizes() -> list[tuple[str, int]]:
    """(partition, bytes on disk with its indexes and TOAST), for reports."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relid::regclass::text, pg_total_relation_size(relid) FROM pg_partition_tree(%s) "
                       "WHERE isleaf ORDER BY 1", [TABLE])
        return cursor.fetchall()
