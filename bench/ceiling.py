"""PostgreSQL's own ceiling for our table: logs/s with no HTTP server in front of it.

The shared harness's `raw_limit.py` measures the seed document's table (six indexes, two JSON
columns). Ours holds more: the filter and operator-console indexes, four JSONB columns and the
rollup trigger. This measures the same thing for our table, to tell how much of the batch
endpoint's throughput is lost above the database and how much is the database itself.

Each connection (a thread with its own psycopg connection) writes prepared 100-log batches and
commits each, as the batch endpoint does: `insert` sends the endpoint's own statement
(`logs.tenant_sql.writes.insert_statement`), `copy` a text COPY of the same values. `single` is
the per-row ceiling: one log per transaction, as the single-log endpoint sends a log that
commits alone (BEGIN, SET LOCAL, the one-row INSERT and COMMIT as one query string, one round
trip), of the harness's post_single bodies. Only the ids change from one batch to the next, so
this process does little work and PostgreSQL sets the pace. Every row written is deleted again
at the end.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from django.db import connection
from django.utils import timezone

from bench import fixture
from logs import partitions
from logs.tenant_sql import writes
from logs.ids import uuid7_many
from logs.models import WorkflowLog
from ingestion.validation import clean_log
from tenants.models import Client

Method = Literal["insert", "copy", "single"]
_TABLE = WorkflowLog._meta.db_table
_COPY_SQL = f"COPY {_TABLE} ({', '.join(writes.COLUMNS)}) FROM STDIN"


@dataclass(frozen=True)
class Ceiling:
    method: Method
    connections: int
    seconds: float
    logs: int
    backend_cpu: float | None  # seconds of the backends' CPU; None when not on this host
    client_cpu: float  # seconds of this process's CPU

    @property
    def logs_per_second(self) -> float:
        return self.logs / self.seconds

    @property
    def backend_us_per_log(self) -> float | None:
        return None if self.backend_cpu is None or not self.logs else 1e6 * self.backend_cpu / self.logs

    def describe(self) -> str:
        line = (f"{self.method} on {self.connections} connection(s), {self.seconds:.1f} s: "
                f"{self.logs_per_second:,.0f} logs/s")
        if self.backend_cpu is not None:
            line += (f"; PostgreSQL backends {self.backend_cpu / self.seconds:.2f} cores, "
                     f"{self.backend_us_per_log:.0f} us per log")
        return line + f"; this process {self.client_cpu / self.seconds:.2f} cores"


def prepare_batches(client: Client, bodies: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The stored rows of each batch of raw log bodies, validated as ingestion validates them."""
    now = timezone.now()
    batches = []
    for batch in bodies:
        rows = []
        for body in batch:
            fields, errors = clean_log(body)
            if fields is None:
                raise ValueError(f"invalid log body: {errors}")
            rows.append(writes.stored_row(fields, now))
        batches.append(rows)
    # Their dates get partitions now (a COPY does not create them on demand).
    partitions.ensure_covered([row["executed_at"] for rows in batches for row in rows])
    return batches


def _backend_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/schedstat") as f:  # nanoseconds on a CPU (Linux)
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None  # PostgreSQL on another host


def _connect() -> psycopg.Connection[Any]:
    return psycopg.connect(**connection.standalone_params())


class _Writer:
    """One connection writing batches until the deadline; remembers every id it stored."""

    def __init__(self, client: Client, batches: list[list[dict[str, Any]]], method: Method, offset: int) -> None:
        self.method, self.offset = method, offset
        self.now = timezone.now()
        # Prepared once per batch: the statement and its parameters, or one value list per row
        # for COPY (the one-row statement's parameters: the columns in order).
        self.prepared = [self._prepare(client, rows) for rows in batches]
        self.sizes = [len(rows) for rows in batches]
        self.ids: list[Any] = []
        self.backend_cpu: float | None = None
        self.error: BaseException | None = None

    def _prepare(self, client: Client, rows: list[dict[str, Any]]) -> Any:
        if self.method == "insert":
            return writes.insert_statement(client, rows, self.now)
        if self.method == "single":
            (row,) = rows
            statement, params = writes.insert_statement(client, [row], self.now, client_bound=True)
            return f"BEGIN; {writes.ingest_timeout_sql(1000)}; {statement}; COMMIT", params
        return [writes.insert_statement(client, [row], self.now)[1] for row in rows]

    def run(self, deadline: float) -> None:
        try:
            with _connect() as conn:
                conn.autocommit = self.method == "single"  # its query string commits
                started = _backend_cpu(conn.info.backend_pid)
                k = self.offset
                while time.monotonic() < deadline:
                    index = k % len(self.prepared)
                    ids = uuid7_many(self.sizes[index])
                    self._write(conn, self.prepared[index], ids)
                    if not conn.autocommit:
                        conn.commit()
                    self.ids.extend(ids)
                    k += 1
                ended = _backend_cpu(conn.info.backend_pid)
                if started is not None and ended is not None:
                    self.backend_cpu = ended - started
        except BaseException as exc:  # reported by measure(), in the caller's thread
            self.error = exc

    def _write(self, conn: psycopg.Connection[Any], prepared: Any, ids: list[Any]) -> None:
        if self.method == "single":
            sql, params = prepared
            psycopg.ClientCursor(conn).execute(sql, {**params, "id": ids[0]})
            return
        if self.method == "insert":
            sql, params = prepared
            # The ids: one row's id parameter, or the batch's id array.
            conn.cursor().execute(sql, {**params, "id": ids[0] if len(ids) == 1 else ids})
            return
        with conn.cursor().copy(_COPY_SQL) as copy:
            for log_id, values in zip(ids, prepared):
                copy.write_row([log_id if name == "id" else values[name] for name in writes.COLUMNS])


def measure(*, client: Client, batches: list[list[dict[str, Any]]], method: Method = "insert",
            connections: int = 4, seconds: float = 15.0) -> Ceiling:
    """Write `batches` (cycled) on `connections` connections for `seconds`, then delete them."""
    writers = [_Writer(client, batches, method, offset=i * len(batches) // connections) for i in range(connections)]
    cpu_before = time.process_time()
    started = time.monotonic()
    threads = [threading.Thread(target=w.run, args=(started + seconds,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    client_cpu = time.process_time() - cpu_before
    try:
        for writer in writers:
            if writer.error is not None:
                raise writer.error
    finally:
        _delete(client, [log_id for w in writers for log_id in w.ids])
    cpus = [w.backend_cpu for w in writers]
    return Ceiling(method=method, connections=connections, seconds=elapsed,
                   logs=sum(len(w.ids) for w in writers),
                   backend_cpu=None if None in cpus else sum(c for c in cpus if c is not None),
                   client_cpu=client_cpu)


def _delete(client: Client, ids: list[Any]) -> None:
    with _connect() as conn:
        conn.execute("SET statement_timeout = 0")
        # One statement: the delete trigger recounts the rollup of the days touched once per
        # statement, and 150,000 logs touch all 90.
        conn.execute(f"DELETE FROM {_TABLE} WHERE client_id = %s AND id = ANY(%s)", [client.pk, ids])
        conn.commit()
        conn.autocommit = True  # VACUUM: the dead rows would slow the next run and later benchmarks
        conn.execute(fixture.VACUUM_LOG_TABLES)


def harness_batches(gen: Any, client_slug: str, count: int = 40, size: int = 100,
                    seed: int | None = None, anchor: dt.datetime | None = None) -> list[list[dict[str, Any]]]:
    """The bodies the harness's post_batch scenario sends (load/run.py: seed + 2000, 40 x 100)."""
    logs = gen.LogGen(seed=(gen.DEFAULT_SEED if seed is None else seed) + 2000, client_id=client_slug,
                      anchor=anchor)
    # As sent: through the harness's JSON encoder (timestamps become text).
    return [[json.loads(gen.dumps(body)) for body in logs.logs(size, start=k * size)] for k in range(count)]


def harness_single_bodies(gen: Any, client_slug: str, count: int = 2000, seed: int | None = None,
                          anchor: dt.datetime | None = None) -> list[list[dict[str, Any]]]:
    """The bodies the harness's post_single scenario sends (load/run.py: seed + 1000, 2,000), each
    as a batch of one."""
    logs = gen.LogGen(seed=(gen.DEFAULT_SEED if seed is None else seed) + 1000, client_id=client_slug,
                      anchor=anchor)
    return [[json.loads(gen.dumps(body))] for body in logs.logs(count)]
