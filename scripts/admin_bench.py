#!/usr/bin/env python
"""Measure the operator console's log pages on a large table (PostgreSQL).

Creates a scratch database, loads N synthetic logs with one INSERT ... SELECT generate_series
per chunk (no HTTP), runs VACUUM ANALYZE, then requests each admin page through Django's test
client as a logged-in superuser and prints, per page: the number of SQL queries, the median
wall time of the request, and the slowest query (with its plan's first line). Drops the scratch
database at the end unless --keep.

    .venv/bin/python scripts/admin_bench.py                   # 1,000,000 rows, ~3-5 minutes
    .venv/bin/python scripts/admin_bench.py --rows 100000 --keep
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INSERT = """
INSERT INTO workflow_logs (id, client_id, event_id, environment, workflow_version, ticket_id, executed_at,
    execution_time_seconds, status, category, resolution_status, customer_type, workflow_error,
    workflow_error_type, workflow_error_node, is_system_error, ticket_subject_hash, requester_email_hash,
    metrics, payload, metadata, extra, created_at)
SELECT gen_random_uuid(), (%(clients)s::bigint[])[1 + (g %% %(n_clients)s)], NULL,
    CASE WHEN g %% 10 < 7 THEN 'production' WHEN g %% 10 < 9 THEN 'staging' ELSE 'development' END,
    'v1.' || (g %% 6), 'T-' || g,
    now() - ((%(rows)s - g) * %(spacing)s) * interval '1 second',
    round((random() * 20)::numeric, 2)::float8, s.status,
    (ARRAY['billing_issue','shipping','refund','account','technical','other'])[1 + (g %% 6)],
    'RESOLVED', CASE WHEN g %% 5 = 0 THEN 'VIP' ELSE 'STANDARD' END,
    CASE WHEN s.status IN ('FAILED', 'ERROR') THEN 'Timeout calling CRM after 30s (request ' || g || ')' END,
    CASE WHEN s.status IN ('FAILED', 'ERROR') THEN (ARRAY['TimeoutError','KeyError','RateLimitError'])[1 + (g %% 3)] END,
    CASE WHEN s.status IN ('FAILED', 'ERROR') THEN 'crm_lookup' END,
    s.status = 'ERROR', md5(g::text), md5((g * 7)::text),
    jsonb_build_object('overall_confidence', round(random()::numeric, 3), 'react_iterations', 1 + g %% 4,
                       'needs_more_info', g %% 9 = 0),
    jsonb_build_object('final_response', 'We have processed your request ' || g,
        'trace', jsonb_build_object('react_iterations', jsonb_build_array(
            jsonb_build_object('iteration', 1, 'thought', 'Look up the order of ticket ' || g, 'action', 'lookup_order',
                               'action_input', jsonb_build_object('ticket', g), 'observation', repeat('order data ', 20)),
            jsonb_build_object('iteration', 2, 'thought', 'Answer the customer', 'action', 'reply',
                               'action_input', jsonb_build_object('template', 'refund'), 'observation', 'sent')))),
    jsonb_build_object('priority', CASE WHEN g %% 4 = 0 THEN 'high' ELSE 'normal' END, 'ticket_tags', jsonb_build_array('tag' || (g %% 10))),
    '{}'::jsonb, now()
FROM generate_series(%(start)s, %(stop)s) AS g
CROSS JOIN LATERAL (SELECT CASE WHEN g %% 100 < 85 THEN 'SUCCESS' WHEN g %% 100 < 92 THEN 'PARTIAL'
                                WHEN g %% 100 < 97 THEN 'FAILED' ELSE 'ERROR' END AS status) AS s
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgres://root@127.0.0.1:5432", help="PostgreSQL server URL (no db)")
    parser.add_argument("--database", default="cl_admin_bench", help="scratch database (dropped and recreated)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--days", type=int, default=90, help="the logs span this many days up to now")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args()

    import psycopg

    admin_url = f"{args.server}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        conn.execute(f'CREATE DATABASE "{args.database}"')

    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ["DB_POOL"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings_test")
    import django

    django.setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            print(f"dropped scratch database {args.database}")


def run(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from tenants.models import Client
    from tenants.services import client_create

    call_command("migrate", verbosity=0)
    clients = [client_create(slug=f"client-{i}", name=f"Client {i}") for i in range(args.clients)]
    ids = [c.pk for c in clients]
    spacing = args.days * 86400 / args.rows
    # The SQL insert makes no partition on demand: the period's months get theirs first.
    from logs.partitions import create_covering

    today = dt.datetime.now(dt.timezone.utc)
    create_covering([today - dt.timedelta(days=d) for d in range(args.days + 2)])
    started = time.perf_counter()
    chunk = 200_000
    with connection.cursor() as cursor:
        for start in range(1, args.rows + 1, chunk):
            stop = min(start + chunk - 1, args.rows)
            cursor.execute(INSERT, {"clients": ids, "n_clients": len(ids), "rows": args.rows, "spacing": spacing,
                                    "start": start, "stop": stop})
            print(f"  loaded {stop:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE workflow_logs")
        cursor.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(t.relid))), sum(c.reltuples)::bigint "
                       "FROM pg_partition_tree('workflow_logs') t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf")
        size, estimate = cursor.fetchone()
    print(f"loaded {args.rows:,} rows in {time.perf_counter() - started:.0f} s; table + indexes {size}; "
          f"reltuples {estimate:,}\n")

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-1")
    http = HttpClient()
    http.force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM workflow_logs ORDER BY executed_at DESC LIMIT 1 OFFSET 12345")
        some_log = cursor.fetchone()[0]
    middle_ticket = f"T-{args.rows // 2}"
    pages = [
        ("logs: default page", "/admin/logs/workflowlog/"),
        ("logs: status=FAILED", "/admin/logs/workflowlog/?status__exact=FAILED"),
        ("logs: search ticket id (exact)", f"/admin/logs/workflowlog/?q={middle_ticket}"),
        ("logs: search ticket id prefix", f"/admin/logs/workflowlog/?q={middle_ticket[:-2]}"),
        ("logs: search log id (UUID)", f"/admin/logs/workflowlog/?q={some_log}"),
        ("logs: search error text", "/admin/logs/workflowlog/?q=CRM%20after"),
        ("logs: client + last 7 days", f"/admin/logs/workflowlog/?client__id__exact={ids[0]}&executed_from=-7d"),
        ("logs: client + error type", f"/admin/logs/workflowlog/?client__id__exact={ids[1]}&workflow_error_type=KeyError"),
        ("logs: date hierarchy month", "/admin/logs/workflowlog/?executed_at__year={y}&executed_at__month={m}"),
        ("logs: page 100", "/admin/logs/workflowlog/?p=100"),
        ("logs: detail page", f"/admin/logs/workflowlog/{some_log}/change/"),
        ("clients: list with 24 h / 7 d counts", "/admin/tenants/client/"),
    ]
    from django.utils import timezone

    now = timezone.now()
    rows = []
    for label, url in pages:
        url = url.format(y=now.year, m=now.month)
        times, counts, slowest = [], [], (0.0, "")
        for i in range(args.runs + 1):
            cache.clear()  # worst case: the sidebar's sampled choices are not cached
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = http.get(url)
                elapsed = time.perf_counter() - t0
            assert response.status_code == 200, (url, response.status_code)
            if i == 0:
                continue  # warm-up
            times.append(elapsed * 1000)
            counts.append(len(ctx.captured_queries))
            for q in ctx.captured_queries:
                if float(q["time"]) * 1000 > slowest[0]:
                    slowest = (float(q["time"]) * 1000, q["sql"])
        plan = ""
        if slowest[1].startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + slowest[1])
                plan = " | ".join(line[0].strip() for line in cursor.fetchall()[:3])
        rows.append((label, max(counts), statistics.median(times), slowest[0], plan))

    print(f"{'page':40} {'queries':>7} {'median ms':>10} {'slowest q ms':>13}  plan of the slowest query")
    for label, count, median, slow, plan in rows:
        print(f"{label:40} {count:>7} {median:>10.1f} {slow:>13.1f}  {plan[:150]}")


if __name__ == "__main__":
    main()
