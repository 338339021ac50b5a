"""Time partitions measured at 1M logs, on scratch databases of its own (never bench_django):

1. **migration**: a database at migration 0012 (one plain table) with N logs, then
   `manage.py migrate logs` (0013 and 0014): the time of each phase, and of the switch under the lock;
2. **prune of one month**: N logs of 10 tenants over 10 months (every log with an event id, as
   the SDK sends them), retention set so the oldest month is due for every tenant:
   `prune_logs` on the plain table (DELETE in batches, as before) against `prune_logs` on the
   partitioned table (the month's partition detached and dropped); time, and the table's size
   on disk afterwards (without a VACUUM FULL);
3. **ingest cost of the event-id claim**: the backend CPU of 100-log batches with and without
   event ids, on the partitioned table, and the old statement on the plain table;
4. **plans**: EXPLAIN (ANALYZE) of the list, the detail by id and the metrics on the
   partitioned table, for the README.

    .venv/bin/python bench/partition_bench.py [--rows 1000000] [--keep] [--only migration,prune,ingest,plans]

Conditions: this machine's PostgreSQL 15, shared with other work; wall-clock figures are noisy,
the backend CPU per batch less so. Each scratch database is dropped at the end (--keep: not).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER = "host=127.0.0.1 user=root"
UTC = dt.timezone.utc
MONTHS = 10
TENANTS = 10
PAYLOAD = json.dumps({"trace": {"react_iterations": [
    {"thought": "Look up the customer's last invoice " * 3, "action": "crm_lookup",
     "action_input": {"customer": "C-1042", "fields": ["invoices", "plan"]},
     "observation": "Invoice 2025-11 unpaid, plan Pro, 3 seats " * 4} for _ in range(4)]}})


def env_for(db: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"postgres://root@127.0.0.1:5432/{db}", "SECRET_KEY": "bench",
            "API_KEY_PEPPER": "bench", "DB_STATEMENT_TIMEOUT_MS": "0", "DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "central_logger.settings", "ALLOWED_HOSTS": "*", "BENCHMARKS": "true",
            "LOG_PARTITION_MAINTENANCE_INTERVAL": "0", "ROLLUP_FLUSH_INTERVAL": "0", "SPOOL_DRAIN_INTERVAL": "0"}


def manage(db: str, *args: str) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env_for(db), capture_output=True,
                          text=True, timeout=7200)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)}: {done.stderr[-3000:]}")
    return done.stdout, time.monotonic() - started


def connect(db: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"{SERVER} dbname={db}", autocommit=True)


def create(db: str) -> None:
    with connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def drop(db: str) -> None:
    with connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def month_start(when: dt.datetime, back: int = 0) -> dt.datetime:
    months = when.year * 12 + when.month - 1 - back
    return dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def load(db: str, rows: int, *, partitioned: bool) -> dict[str, Any]:
    """N logs of 10 tenants spread evenly over the last 10 whole months before this one."""
    create(db)
    manage(db, "migrate", "--noinput", "-v0", *([] if partitioned else ["logs", "0012"]))
    if not partitioned:
        manage(db, "migrate", "--noinput", "-v0", "tenants")
    manage(db, "shell", "-c", "from tenants.services import client_create\n"
                              f"[client_create(slug=f't{{i:02d}}', name=f'T{{i}}') for i in range({TENANTS})]")
    now = dt.datetime.now(UTC)
    first, last = month_start(now, MONTHS), month_start(now)
    if partitioned:
        manage(db, "shell", "-c", "import datetime as dt\nfrom logs.partitions import create_covering\n"
                                  f"create_covering([dt.datetime({first.year}, {first.month}, 1, tzinfo=dt.timezone.utc)"
                                  f" + dt.timedelta(days=31 * i) for i in range({MONTHS})])")
    span = (last - first).total_seconds()
    started = time.monotonic()
    with connect(db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM tenants_client ORDER BY id")]
        conn.execute("ALTER TABLE workflow_logs DISABLE TRIGGER logs_rollup_insert")
        chunk = 100_000
        for start in range(0, rows, chunk):
            conn.execute(
                "INSERT INTO workflow_logs (id, client_id, event_id, environment, workflow_version, ticket_id, "
                "executed_at, execution_time_seconds, status, category, workflow_error_type, metrics, payload, "
                "extra, created_at) SELECT gen_random_uuid(), (%s::bigint[])[1 + g %% %s::int], 'evt-' || g, 'production', "
                "'v' || (g %% 3), 'T-' || g, %s::timestamptz + (g::float8 / %s::int * %s::float8) * interval '1 second', "
                "(g %% 97) / 7.0, (ARRAY['SUCCESS','SUCCESS','SUCCESS','PARTIAL','FAILED','ERROR'])[1 + g %% 6], "
                "'cat-' || (g %% 8), CASE WHEN g %% 6 >= 4 THEN 'TimeoutError' END, "
                "jsonb_build_object('confidence', (g %% 100) / 100.0), %s::jsonb, '{}'::jsonb, now() "
                "FROM generate_series(%s::int, %s::int) AS g",
                [ids, len(ids), first, rows, span, PAYLOAD, start, min(start + chunk, rows) - 1])
            print(f"    {db}: {min(start + chunk, rows)} rows", flush=True)
        conn.execute("ALTER TABLE workflow_logs ENABLE TRIGGER logs_rollup_insert")
        if partitioned:
            conn.execute("INSERT INTO logs_event_ids SELECT client_id, event_id, id, executed_at FROM workflow_logs")
    manage(db, "rebuild_rollups")
    with connect(db) as conn:
        conn.execute("VACUUM (ANALYZE) workflow_logs")
        conn.execute("VACUUM (ANALYZE) logs_rollup")
    return {"rows": rows, "first": first, "seconds": round(time.monotonic() - started, 1)}


def table_bytes(db: str) -> int:
    with connect(db) as conn:
        return int(conn.execute(
            "SELECT CASE WHEN relkind = 'p' THEN (SELECT sum(pg_total_relation_size(relid)) FROM "
            "pg_partition_tree('workflow_logs')) ELSE pg_total_relation_size('workflow_logs') END "
            "FROM pg_class WHERE oid = 'workflow_logs'::regclass").fetchone()[0])


def migration(rows: int, keep: bool) -> dict[str, Any]:
    db = "cl_24_bench_migrate"
    load(db, rows, partitioned=False)
    before = table_bytes(db)
    out, seconds = manage(db, "migrate", "logs")  # 0013 (event ids) and 0014 (the partitioning)
    if not keep:
        drop(db)
    return {"rows": rows, "seconds": round(seconds, 1), "bytes_before": before,
            "output": [line.strip() for line in out.splitlines() if "workflow_logs:" in line or "event_ids:" in line]}


def prune(rows: int, keep: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, partitioned in (("delete", False), ("partition_drop", True)):
        db = f"cl_24_bench_prune_{label}"
        first = load(db, rows, partitioned=partitioned)["first"]
        days = (dt.datetime.now(UTC) - month_start(dt.datetime.now(UTC), MONTHS - 1)).days
        with connect(db) as conn:
            conn.execute("UPDATE tenants_client SET retention_days = %s", [days])
        size = table_bytes(db)
        text, seconds = manage(db, "prune_logs", "--batch-size", "5000")
        _, startup = manage(db, "check")
        out[label] = {"seconds": round(seconds, 1), "django_startup_seconds": round(startup, 1),
                      "bytes_before": size, "bytes_after": table_bytes(db),
                      "month": f"{first:%Y-%m}", "output": text.strip().splitlines()[:3]}
        if not keep:
            drop(db)
    return out


def ingest(keep: bool) -> dict[str, Any]:
    """Backend CPU per 100-log batch: the partitioned table with and without event ids, and the
    plain table (0012) with the statement it had."""
    results = {}
    for label, partitioned in (("plain_0012", False), ("partitioned", True)):
        db = f"cl_24_bench_ingest_{label}"
        load(db, 100_000, partitioned=partitioned)
        code = ("import json, time\nfrom bench.partition_bench import ingest_cpu\n"
                f"print(json.dumps(ingest_cpu(partitioned={partitioned})))")
        text, _ = manage(db, "shell", "-c", code)
        results[label] = json.loads(text.strip().splitlines()[-1])
        if not keep:
            drop(db)
    return results


def ingest_cpu(*, partitioned: bool, batches: int = 300) -> dict[str, float]:
    """(Inside `manage.py shell` on the database.) Median backend CPU (us) per 100-log batch."""
    from django.db import connection
    from django.utils import timezone

    from bench.ceiling import _backend_cpu
    from logs.ids import uuid7_for
    from logs.tenant_sql import writes
    from tenants.models import Client

    client = Client.objects.order_by("pk").first()
    now = timezone.now()
    conn = psycopg.connect(**connection.standalone_params(), autocommit=False)
    pid = conn.info.backend_pid
    out = {}
    variants = {"event_ids": True, "no_event_ids": False} if partitioned else {"old_statement_event_ids": True}
    for name, with_events in variants.items():
        samples = []
        for b in range(batches):
            when = [now - dt.timedelta(minutes=5, seconds=i) for i in range(100)]
            rows = [writes.stored_row({"environment": "production", "executed_at": w, "status": "SUCCESS",
                                       "ticket_id": f"B{b}-{i}", "payload": json.loads(PAYLOAD),
                                       "event_id": f"{name}-{b}-{i}-{uuid.uuid4()}" if with_events else None,
                                       "id": log_id}, now)
                    for i, (w, log_id) in enumerate(zip(when, uuid7_for(when)))]
            sql, params = writes.insert_statement(client, rows, now)
            if not partitioned:  # the statement of 278efad: one unique index of the table itself
                sql = _old_statement(sql)
            cpu = _backend_cpu(pid)
            conn.execute(sql, params)
            conn.commit()
            samples.append((_backend_cpu(pid) or 0) - (cpu or 0))
        samples.sort()
        out[name] = round(samples[len(samples) // 2] * 1e6, 1)
    conn.close()
    return out


def _old_statement(sql: str) -> str:
    """278efad's batch statement: the rows straight from unnest, skipped on a conflict of the
    table's unique (client_id, event_id)."""
    arrays = re.search(r"FROM unnest\((.*)\) AS u\(([^)]*)\)\), claimed", sql)
    assert arrays is not None
    head = sql[sql.index("INSERT INTO workflow_logs"):sql.rindex(" FROM u WHERE")]
    return (f"{head} FROM unnest({arrays.group(1)}) AS u({arrays.group(2)}) "
            "ON CONFLICT (client_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING id")


def plans(rows: int, keep: bool) -> dict[str, str]:
    db = "cl_24_bench_plans"
    load(db, rows, partitioned=True)
    with connect(db) as conn:
        client = conn.execute("SELECT id FROM tenants_client ORDER BY id LIMIT 1").fetchone()[0]
        log_id, executed = conn.execute("SELECT id, executed_at FROM workflow_logs WHERE client_id = %s "
                                        "ORDER BY executed_at DESC LIMIT 1", [client]).fetchone()
        start = executed - dt.timedelta(days=7)
        queries = {
            "list (status=FAILED, 7 days)": (
                "SELECT \"id\"::text, executed_at, status FROM workflow_logs WHERE client_id = %s AND status = ANY(%s) "
                "AND executed_at >= %s AND executed_at <= %s ORDER BY executed_at DESC, id DESC LIMIT 50",
                [client, ["FAILED"], start, executed]),
            "detail by id": (
                "SELECT id::text, payload FROM workflow_logs WHERE client_id = %s AND id = %s "
                "AND executed_at >= %s AND executed_at < %s LIMIT 1",
                [client, log_id, executed.replace(microsecond=executed.microsecond // 1000 * 1000),
                 executed.replace(microsecond=executed.microsecond // 1000 * 1000) + dt.timedelta(milliseconds=1)]),
            "metrics raw edge (scan_stats, 7 days)": (
                "SELECT count(*), avg(execution_time_seconds) FROM workflow_logs WHERE client_id = %s "
                "AND executed_at >= %s AND executed_at < %s", [client, start, executed]),
        }
        out = {}
        for name, (sql, params) in queries.items():
            conn.execute(sql, params)  # warm
            plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params).fetchall()
            out[name] = "\n".join(row[0] for row in plan)
    if not keep:
        drop(db)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--only", default="migration,prune,ingest,plans")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    report: dict[str, Any] = {"rows": args.rows, "when": dt.datetime.now(UTC).isoformat(timespec="seconds")}
    for part in args.only.split(","):
        print(f"== {part}", flush=True)
        if part == "migration":
            report[part] = migration(args.rows, args.keep)
        elif part == "prune":
            report[part] = prune(args.rows, args.keep)
        elif part == "ingest":
            report[part] = ingest(args.keep)
        elif part == "plans":
            report[part] = plans(args.rows, args.keep)
        print(json.dumps(report[part], indent=1, default=str), flush=True)
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
