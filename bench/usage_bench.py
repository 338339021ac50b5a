"""`/metrics/usage?group=` before and after the usage rollup (logs migration 0018), interleaved.

    DATABASE_URL=postgres://root@127.0.0.1:5432/<db> python bench/usage_bench.py <client-slug> [reps]

On a database filled by dashboard/e2e/perf_seed.py (and migrated to 0018), per period (7, 30,
90 days) and group (day, category, workflow_version), `reps` rounds of: A = the breakdown as
shipped before 0018 (the keys from the newest 2,000 logs, then a scan summing every key per
group, float8), B = `metrics.usage.breakdown` from the rollup, C = the same answer by the scan
that now serves filtered requests (`logs_usage_of()`, numeric). A, B and C alternate within each
round; prints the median and the range of each, in ms, and whether B's figures equal C's.
With USAGE_BENCH_INSERT=1: the insert trigger's cost before and after 0018 (`insert_cost`); with
USAGE_BENCH_ENDPOINT=1: the whole answer, cards included (`endpoint`).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")
os.environ.setdefault("SECRET_KEY", "bench")
os.environ.setdefault("API_KEY_PEPPER", "bench")
os.environ["DB_STATEMENT_TIMEOUT_MS"] = "0"

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from logs.models import WorkflowLog  # noqa: E402
from logs.periods import Period  # noqa: E402
from metrics import usage  # noqa: E402
from metrics.selectors import Scope  # noqa: E402
from tenants.models import Client  # noqa: E402

_NUMBER = "CASE WHEN jsonb_typeof(metrics -> %s) = 'number' THEN (metrics ->> %s)::float8 END"
_GROUPS = {"day": "date_trunc('day', executed_at, 'UTC')", "category": "category",
           "workflow_version": "workflow_version"}


def before(client: Client, period: Period, group: str) -> int:
    """The statements of metrics/usage.py before 0018 (key sample, then the per-group scan)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT e.k FROM (SELECT metrics FROM workflow_logs WHERE client_id = %s AND executed_at >= %s "
            "AND executed_at < %s ORDER BY executed_at DESC LIMIT 2000) AS s, jsonb_each(CASE WHEN "
            "jsonb_typeof(s.metrics) = 'object' THEN s.metrics ELSE '{}'::jsonb END) AS e(k, v) "
            "WHERE jsonb_typeof(e.v) = 'number' AND e.k ~* 'token|cost' ORDER BY 1 LIMIT 10",
            [client.pk, period.start, period.end])
        keys = [row[0] for row in cursor.fetchall()]
        columns = "".join(f", count({_NUMBER}), sum({_NUMBER})" for _ in keys)
        cursor.execute(f"SELECT {_GROUPS[group]}, count(*){columns} FROM workflow_logs WHERE client_id = %s "
                       "AND executed_at >= %s AND executed_at < %s GROUP BY 1",
                       [*[k for key in keys for k in (key,) * 4], client.pk, period.start, period.end])
        return len(cursor.fetchall())


def insert_cost(client: Client, reps: int) -> None:
    """The insert trigger's cost: INSERT ... SELECT of 1,000 copies of the client's newest logs
    (new ids, no event ids), rolled back, with 0016's insert trigger function (A, swapped in
    inside the same rolled-back transaction) and 0018's (B), alternating."""
    import importlib

    old = importlib.import_module("logs.migrations.0016_error_fingerprints").FORWARD
    old = old[old.index("CREATE OR REPLACE FUNCTION logs_rollup_on_insert"):old.index("CREATE OR REPLACE FUNCTION logs_rollup_flush")]
    columns = [f.column for f in WorkflowLog._meta.concrete_fields]
    copied = ", ".join("gen_random_uuid()" if c == "id" else "NULL" if c == "event_id" else c for c in columns)
    insert = (f"INSERT INTO workflow_logs ({', '.join(columns)}) SELECT {copied} FROM workflow_logs "
              "WHERE client_id = %s ORDER BY executed_at DESC LIMIT 1000")
    times: dict[str, list[float]] = {"A": [], "B": []}
    for _ in range(reps):
        for label in ("A", "B"):
            with transaction.atomic(), connection.cursor() as cursor:
                if label == "A":
                    cursor.execute(old)
                t = time.perf_counter()
                cursor.execute(insert, [client.pk])
                times[label].append(time.perf_counter() - t)
                transaction.set_rollback(True)
    for label, values in times.items():
        print(f"insert 1,000 logs, {'0016 trigger' if label == 'A' else '0018 trigger'}: median "
              f"{statistics.median(values) * 1000:.1f} ms ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})")
    # A recount of the busiest day (a DELETE or a counted column's UPDATE recounts its days):
    # 0016's recount function (A) and 0018's, which recounts the usage too (B).
    recount = importlib.import_module("logs.migrations.0016_error_fingerprints").FORWARD
    recount = recount[recount.index("CREATE OR REPLACE FUNCTION logs_rollup_recount"):recount.index("-- The F rows")]
    times = {"A": [], "B": []}
    with connection.cursor() as cursor:
        cursor.execute("SELECT date_trunc('day', executed_at, 'UTC') AS d FROM workflow_logs WHERE client_id = %s "
                       "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", [client.pk])
        (day,) = cursor.fetchone()
    for _ in range(reps):
        for label in ("A", "B"):
            with transaction.atomic(), connection.cursor() as cursor:
                if label == "A":
                    cursor.execute(recount)
                t = time.perf_counter()
                cursor.execute("SELECT logs_rollup_recount(%s, %s, %s + interval '1 day')", [client.pk, day, day])
                times[label].append(time.perf_counter() - t)
                transaction.set_rollback(True)
    for label, values in times.items():
        print(f"recount of {day:%Y-%m-%d}, {'0016' if label == 'A' else '0018'}: median "
              f"{statistics.median(values) * 1000:.0f} ms ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})")


def endpoint(client: Client, reps: int) -> None:
    """The whole answer of `/metrics/usage?group=category` (the latency page): A = before 0018
    (the breakdown's scan and the cards' partial-index reads of the period and the previous
    one), B = `usage.metrics_usage` from the rollups, alternating."""
    from logs.tenant_sql import metric_stats

    scope = Scope(client=client, where=("", []))
    for days in (7, 30, 90):
        period = Period.last_days(days, now=timezone.now())
        times: dict[str, list[float]] = {"A": [], "B": []}
        for _ in range(reps):
            t = time.perf_counter()
            before(client, period, "category")
            for start, end in ((period.start, period.end), (period.previous_start, period.previous_end)):
                metric_stats.usage_totals(client, condition="", params=[], start=start, end=end)
            times["A"].append(time.perf_counter() - t)
            t = time.perf_counter()
            usage.metrics_usage(scope, period=period, group="category")
            times["B"].append(time.perf_counter() - t)
        print(f"{days:>4}d  whole answer by category: " + "  ".join(
            f"{k} {statistics.median(v) * 1000:.0f} ms ({min(v) * 1000:.0f}-{max(v) * 1000:.0f})" for k, v in times.items()),
            flush=True)


def main() -> None:
    slug, reps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    client = Client.objects.get(slug=slug)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    rollup_scope = Scope(client=client, where=("", []))
    # A condition every log meets: the filtered road (a scan), for the same answer.
    scan_scope = Scope(client=client, where=("TRUE", []))
    if os.environ.get("USAGE_BENCH_ENDPOINT"):
        endpoint(client, reps)
        return
    if os.environ.get("USAGE_BENCH_INSERT"):
        insert_cost(client, reps)
        return
    print("period group        A before (ms)          B rollup (ms)      C scan 0018 (ms)  B == C")
    for days in (7, 30, 90):
        period = Period.last_days(days, now=timezone.now())
        for group in ("day", "category", "workflow_version"):
            times: dict[str, list[float]] = {"A": [], "B": [], "C": []}
            same = True
            for _ in range(reps):
                t = time.perf_counter()
                before(client, period, group)
                times["A"].append(time.perf_counter() - t)
                t = time.perf_counter()
                b = usage.breakdown(rollup_scope, period=period, group=group)
                times["B"].append(time.perf_counter() - t)
                t = time.perf_counter()
                c = usage.breakdown(scan_scope, period=period, group=group)
                times["C"].append(time.perf_counter() - t)
                same = same and b == c
            cells = [f"{statistics.median(v) * 1000:7.1f} ({min(v) * 1000:.0f}-{max(v) * 1000:.0f})"
                     for v in times.values()]
            print(f"{days:>4}d  {group:<16} " + "  ".join(f"{c:>20}" for c in cells) + f"  {same}", flush=True)


if __name__ == "__main__":
    main()
