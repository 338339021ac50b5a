"""Load the benchmark fixture into `workflow_logs` by COPY (no HTTP), fast.

The logs are the ones the shared harness loads into the peer (its gen.py, run in place by bench/harness.py; same seeds, same
clients, same anchor), turned into our rows by the same `clean_log()` that ingestion uses, so
the two servers are measured on the same data. Generation runs in worker processes; the main
process streams their COPY text into one COPY. Secondary indexes are dropped during the load
and rebuilt after it (several times faster than maintaining them row by row), the metrics
rollups are rebuilt from the table, then VACUUM ANALYZE.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.db import connection, transaction
from django.utils import timezone

from bench.harness import load_gen
from ingestion.validation import clean_log
from logs import partitions
from logs.ids import uuid7_for
from logs.models import WorkflowLog
from logs.tenant_sql.writes import COLUMN_TYPES, json_text
from tenants.models import Client

CHUNK = 2000
MAIN_CLIENT = "bench-main"
WRITER_CLIENT = "bench-writer"
COLUMNS = tuple(name for name, _ in COLUMN_TYPES)


def other_client(k: int) -> str:
    return f"bench-other-{k:02d}"


@dataclass(frozen=True)
class Plan:
    """Which logs go to which client: (client slug, seed offset, first index, count) chunks."""

    main_rows: int
    other_clients: int
    other_rows: int

    def clients(self) -> list[tuple[str, int, int]]:
        """(slug, seed offset, rows): the same split and seeds as the shared fixture.py."""
        out = [(MAIN_CLIENT, 0, self.main_rows)]
        if self.other_clients:
            per = self.other_rows // self.other_clients
            for k in range(1, self.other_clients + 1):
                out.append((other_client(k), k, per + (self.other_rows % self.other_clients if k == 1 else 0)))
        return out

    def chunks(self) -> list[tuple[str, int, int, int]]:
        jobs = [(slug, off, start, min(CHUNK, n - start))
                for slug, off, n in self.clients() for start in range(0, n, CHUNK)]
        jobs.sort(key=lambda j: (j[2], j[0]))  # interleave clients, as real traffic mixes them
        return jobs


def copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def copy_line(row: dict[str, Any]) -> str:
    """One row (clean_log() fields + id, client_id, created_at) as a line of COPY text, in
    COLUMN_TYPES order."""
    return "\t".join(copy_text(json_text(row.get(name)) if kind == "jsonb" else row.get(name))
                     for name, kind in COLUMN_TYPES)


_WORKER: dict[str, Any] = {}


def _worker_init(seed: int, anchor: str, span_days: int, client_ids: dict[str, int], created_at: str) -> None:
    _WORKER.update(seed=seed, anchor=dt.datetime.fromisoformat(anchor), span=span_days,
                   client_ids=client_ids, created_at=created_at, gens={})


def _worker_chunk(job: tuple[str, int, int, int]) -> tuple[int, bytes]:
    slug, seed_off, start, n = job
    g = _WORKER["gens"].get(slug)
    if g is None:
        g = _WORKER["gens"][slug] = load_gen().LogGen(seed=_WORKER["seed"] + seed_off, anchor=_WORKER["anchor"],
                                               span_days=_WORKER["span"], client_id=slug)
    client_id = _WORKER["client_ids"][slug]
    lines = []
    for i in range(start, start + n):
        fields, errors = clean_log(g.log(i))
        if fields is None:  # the generator only makes valid logs; a failure is a bug here
            raise ValueError(f"generated log {slug}#{i} is invalid: {errors}")
        row = {**fields, "id": uuid7_for([fields["executed_at"]])[0], "client_id": client_id,
               "created_at": _WORKER["created_at"]}
        lines.append(copy_line(row))
    return n, ("\n".join(lines) + "\n").encode()


_PEER_SELECT = ("SELECT client_id, environment, workflow_version, ticket_id, executed_at, execution_time_seconds, "
                "status, category, resolution_status, metrics::text, payload::text FROM workflow_logs")


def _worker_convert(rows: list[tuple[Any, ...]]) -> tuple[int, bytes]:
    """Peer rows (the shared harness's schema, fields without a column inside payload) back to
    the body the generator produced, then through clean_log() like any ingested log."""
    lines = []
    for (slug, environment, version, ticket, executed_at, seconds, status, category, resolution,
         metrics, payload) in rows:
        payload = orjson.loads(payload) if payload else {}
        body = {k: payload.pop(k) for k in load_gen().EXTRA_FIELDS if k in payload}
        body.update(client_id=slug, environment=environment, workflow_version=version, ticket_id=ticket,
                    executed_at=executed_at.isoformat(), execution_time_seconds=seconds, status=status,
                    category=category, resolution_status=resolution,
                    metrics=orjson.loads(metrics) if metrics else {}, payload=payload)
        fields, errors = clean_log(body)
        if fields is None:
            raise ValueError(f"peer row of {slug} at {executed_at} is invalid here: {errors}")
        row = {**fields, "id": uuid7_for([fields["executed_at"]])[0], "client_id": _WORKER["client_ids"][slug],
               "created_at": _WORKER["created_at"]}
        lines.append(copy_line(row))
    return len(rows), ("\n".join(lines) + "\n").encode()


def _peer_chunks(dsn: str) -> Iterator[list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as source, source.cursor(name="bench_fixture_source") as cur:
        cur.itersize = CHUNK
        cur.execute(_PEER_SELECT)
        while rows := cur.fetchmany(CHUNK):
            yield rows


def ensure_clients(plan: Plan) -> dict[str, Client]:
    slugs = [slug for slug, _, _ in plan.clients()] + [WRITER_CLIENT]
    out = {}
    for slug in slugs:
        out[slug], _ = Client.objects.get_or_create(slug=slug, defaults={"name": slug})
    return out


def secondary_indexes() -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every index of the log table but its constraints'."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [WorkflowLog._meta.db_table, WorkflowLog._meta.db_table])
        return cursor.fetchall()


def load(*, plan: Plan, seed: int, anchor: dt.datetime, span_days: int, jobs: int, truncate: bool,
         progress: Callable[[str], None], source_dsn: str | None = None) -> dict[str, Any]:
    """Load the fixture; returns a summary (rows, seconds, sizes).

    With `source_dsn`, the logs are not generated but read from the peer's already loaded
    fixture (the shared harness's load/fixture.py, same generator and seeds): the same logs,
    several times faster than generating them again, and byte-for-byte the same data for both
    servers. Its clients must be the plan's (bench-main, bench-other-NN).
    """
    table = WorkflowLog._meta.db_table
    clients = ensure_clients(plan)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # A bulk load runs for minutes: the service's statement_timeout does not apply to it.
        cursor.execute("SET statement_timeout = 0")
        if truncate:
            cursor.execute(f"TRUNCATE {table}")
    # A COPY makes no partition on demand: the fixture's days get theirs first.
    aware = anchor if anchor.tzinfo else anchor.replace(tzinfo=dt.timezone.utc)  # the harness's anchor is naive UTC
    first = aware - dt.timedelta(days=span_days + 1)
    partitions.create_covering([first + dt.timedelta(days=d) for d in range(0, span_days + 3)])
    with bulk_load_mode(progress):
        return _copy_rows(plan=plan, seed=seed, anchor=anchor, span_days=span_days, jobs=jobs,
                          clients=clients, progress=progress, source_dsn=source_dsn, t0=t0)


@contextlib.contextmanager
def bulk_load_mode(progress: Callable[[str], None]) -> Iterator[None]:
    """The log table without its secondary indexes and rollup insert trigger for a bulk COPY,
    both restored afterwards, even when the COPY fails (the caller rebuilds the rollup: one COPY
    of millions of rows would hand the trigger one giant transition table)."""
    table = WorkflowLog._meta.db_table
    dropped = secondary_indexes()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        for name, _ in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER logs_rollup_insert")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER logs_rollup_insert")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for name, ddl in dropped:
                t = time.perf_counter()
                # pg_indexes says `ON ONLY` for a partitioned table's index: that would make an
                # empty, invalid index on the parent alone; `ON` builds every partition's.
                cursor.execute(ddl.replace(" ON ONLY ", " ON ", 1))
                progress(f"  index {name}: {time.perf_counter() - t:.0f}s")


def _copy_rows(*, plan: Plan, seed: int, anchor: dt.datetime, span_days: int, jobs: int,
               clients: dict[str, Client], progress: Callable[[str], None], source_dsn: str | None,
               t0: float) -> dict[str, Any]:
    table = WorkflowLog._meta.db_table

    chunks = plan.chunks()
    total = sum(n for *_, n in chunks)
    if source_dsn:
        with psycopg.connect(source_dsn) as source:
            slugs = [r[0] for r in source.execute("SELECT DISTINCT client_id FROM workflow_logs")]
            total = source.execute("SELECT count(*) FROM workflow_logs").fetchone()[0]
        for slug in slugs:
            clients.setdefault(slug, Client.objects.get_or_create(slug=slug, defaults={"name": slug})[0])
    progress(f"loading {total} rows ({len(plan.clients())} clients, anchor {anchor.isoformat()}, {jobs} jobs)")
    done = 0
    created_at = timezone.now().isoformat()
    client_ids = {slug: c.pk for slug, c in clients.items()}
    # fork: the workers inherit the configured Django (clean_log reads settings) but never
    # touch the database connection, which stays with this process.
    ctx = mp.get_context("fork")
    connection.close()  # fork with no open database socket to share
    with ctx.Pool(jobs, initializer=_worker_init,
                  initargs=(seed, anchor.isoformat(), span_days, client_ids, created_at)) as pool:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")  # a fresh connection after the fork
            with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                produced = (pool.imap(_worker_convert, _peer_chunks(source_dsn), chunksize=1) if source_dsn
                            else pool.imap(_worker_chunk, chunks, chunksize=1))
                for n, data in produced:
                    copy.write(data)
                    done += n
                    if done % 100_000 < CHUNK:
                        progress(f"  {done:>9d} rows  {done / (time.perf_counter() - t0):7.0f} rows/s")
    with connection.cursor() as cursor:  # the idempotency keys the insert statement would have claimed
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("INSERT INTO logs_event_ids (client_id, event_id, log_id, executed_at) SELECT client_id, "
                       f"event_id, id, executed_at FROM {table} WHERE event_id IS NOT NULL ON CONFLICT DO NOTHING")
    t_copy = time.perf_counter() - t0
    progress(f"COPY done: {total} rows in {t_copy:.0f}s ({total / t_copy:.0f} rows/s)")
    return {"rows": total, "copy_seconds": round(t_copy, 1), "rows_per_second": round(total / t_copy)}


def copy_logs(produced: Iterable[tuple[int, bytes]], progress: Callable[[str], None], started: float) -> int:
    """COPY the chunks of log lines that worker processes produce ((count, bytes) each, see
    copy_line) into the log table on this process's connection, with a progress line at every
    100,000 logs; returns how many were written. The seeders' one COPY loop."""
    done = 0
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        with cursor.cursor.copy(f"COPY {WorkflowLog._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for count, data in produced:
                copy.write(data)
                done += count
                if done // 100_000 != (done - count) // 100_000:
                    progress(f"  {done:>9,} logs ({time.time() - started:.0f} s)")
    return done


def vacuum_analyze() -> tuple[int, float]:
    table = WorkflowLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("SELECT sum(pg_total_relation_size(relid)), sum(pg_relation_size(relid)) "
                       "FROM pg_partition_tree(%s) WHERE isleaf", [table])
        total, heap = cursor.fetchone()
    return total, heap


# The log table and the rollup tables its triggers write: vacuumed after a benchmark deletes
# what it wrote. Their dead rows would slow later runs (autovacuum is off on the CI machines):
# index scans step over them, and so do the planner's probes of index ends (a 90-day
# timeseries planned in 30 ms instead of 2 after ~3M dead rows).
VACUUM_LOG_TABLES = f"VACUUM (ANALYZE) {WorkflowLog._meta.db_table}, logs_rollup, logs_rollup_pending"


def delete_client_logs(slug: str) -> int:
    """Remove the rows a benchmark wrote (e.g. the POST scenarios' bench-writer)."""
    client = Client.objects.filter(slug=slug).first()
    if client is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # ~100k rows and their rollup recount
        cursor.execute(f"DELETE FROM {WorkflowLog._meta.db_table} WHERE client_id = %s", [client.pk])
        deleted = cursor.rowcount
        cursor.execute(VACUUM_LOG_TABLES)
        return deleted
