"""Seed and index the search benchmark's database (bench/search_bench.py measures it).

    python bench/search_seed.py seed  <database-url> --main 1000000 --others 1000000 [--tenants 4]
    python bench/search_seed.py index <database-url> [--jobs 2]

`seed`: one client `search-main` with --main logs and --tenants - 1 clients `search-other-NN`
sharing --others, all from bench/realistic.py (the shared harness's generator: distinct
timestamps over the 90 days before now, all four statuses in their real mix incl. FAILED and
ERROR, the real workflow's trace, metrics and metadata, 3-6 KB; plus realistic error messages,
thirty categories, text in nine languages and scripts in 15 % of the logs), each log through
ingestion's `clean_log()`, streamed by COPY from worker processes with the log table's secondary
indexes dropped and rebuilt (bench/fixture.py's bulk-load mode). The search trigger stays on,
so every log is queued for indexing exactly as ingestion queues it.

`index`: drains the queue with --jobs processes, each running the indexer's own `index_slot`
(the logs whose id hashes to its slot, as `manage.py index_search --processes N`), printing
logs/s; then VACUUM ANALYZE of the search tables.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 2000
_STATE: dict[str, object] = {}


def setup_django(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="central_logger.settings", BENCHMARKS="true")
    os.environ.setdefault("SECRET_KEY", "search-bench")
    os.environ.setdefault("API_KEY_PEPPER", "search-bench")
    os.environ["DB_STATEMENT_TIMEOUT_MS"] = "0"
    import django

    django.setup()


def _init(anchor: str, created_at: str) -> None:
    from bench.realistic import generator

    _STATE.update(gen=generator(anchor=dt.datetime.fromisoformat(anchor)), created_at=created_at)


def _chunk(job: tuple[int, str, int, int]) -> tuple[int, bytes]:
    from bench.fixture import copy_line
    from bench.realistic import realistic_log
    from ingestion.validation import clean_log
    from logs.ids import uuid7_for

    client_id, slug, start, end = job
    lines = []
    for i in range(start, end):
        fields, errors = clean_log(realistic_log(_STATE["gen"], i, client_id=slug))
        if fields is None:
            raise ValueError(f"generated log #{i} is invalid: {errors}")
        lines.append(copy_line({**fields, "id": uuid7_for([fields["executed_at"]])[0], "client_id": client_id,
                                "created_at": _STATE["created_at"]}))
    return end - start, ("\n".join(lines) + "\n").encode()


def seed(url: str, main: int, others: int, tenants: int, jobs: int) -> None:
    setup_django(url)
    from django.db import connection
    from django.utils import timezone

    from bench.fixture import bulk_load_mode, copy_logs
    from logs import partitions
    from logs.models import WorkflowLog
    from tenants.models import Client

    table = WorkflowLog._meta.db_table
    clients = [Client.objects.get_or_create(slug=slug, defaults={"name": slug})[0]
               for slug in ["search-main", *(f"search-other-{k:02d}" for k in range(1, tenants))]]
    share = others // max(1, tenants - 1)
    plan = [(clients[0], 0, main)] + [(c, k * 10_000_000, k * 10_000_000 + share) for k, c in enumerate(clients[1:], 1)]
    jobs_list = [(c.pk, c.slug, s, min(s + CHUNK, end)) for c, start, end in plan for s in range(start, end, CHUNK)]
    now = timezone.now().replace(microsecond=0)
    partitions.create_covering([now - dt.timedelta(days=d) for d in range(-2, 93)])
    started = time.time()
    with bulk_load_mode(print):
        connection.close()
        with mp.get_context("fork").Pool(jobs, initializer=_init, initargs=(now.isoformat(), now.isoformat())) as pool:
            done = copy_logs(pool.imap(_chunk, jobs_list, chunksize=1), lambda line: print(line, flush=True), started)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"seeded {done:,} logs in {time.time() - started:.0f} s", flush=True)


def _index_worker(url: str, slot: int, slots: int) -> int:
    setup_django(url)
    from logs.search_indexer import index_slot

    return index_slot(slot, slots)


def index(url: str, jobs: int) -> None:
    setup_django(url)
    from django.db import connection

    from logs.tenant_sql import search as sql

    before = sql.dangerously_count_pending()
    started = time.time()
    connection.close()
    ctx = mp.get_context("spawn")
    with ctx.Pool(jobs) as pool:
        result = pool.starmap_async(_index_worker, [(url, k, jobs) for k in range(jobs)])
        while not result.ready():
            result.wait(30)
            left = sql.dangerously_count_pending()
            connection.close()
            elapsed = time.time() - started
            print(f"  {before - left:>9,} of {before:,} indexed, {(before - left) / elapsed:.0f} logs/s", flush=True)
        indexed = sum(result.get())
    elapsed = time.time() - started
    print(f"indexed {indexed:,} logs in {elapsed:.0f} s: {indexed / elapsed:.0f} logs/s with {jobs} processes")
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("VACUUM (ANALYZE) logs_search_docs, logs_search_pending")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('logs_search_docs')), "
                       "pg_total_relation_size('logs_search_docs'), (SELECT count(*) FROM logs_search_docs)")
        pretty, size, docs = cursor.fetchone()
        print(f"logs_search_docs: {pretty} for {docs:,} logs = {size / max(docs, 1) * 1e6 / 2**30:.2f} GiB per million")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["seed", "index"])
    parser.add_argument("url")
    parser.add_argument("--main", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.step == "seed":
        seed(args.url, args.main, args.others, args.tenants, args.jobs)
    else:
        index(args.url, args.jobs)


if __name__ == "__main__":
    main()
