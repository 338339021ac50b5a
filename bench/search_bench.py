"""Search at scale: first-page latency at 8 concurrent searches, the plans, and the ingest cost.

    python bench/search_bench.py latency <database-url> [--rounds 12] [--concurrency 8]
    python bench/search_bench.py explain <database-url>
    python bench/search_bench.py ingest-ab <database-url> [--rounds 3] [--seconds 20]

Over a database filled by bench/search_seed.py. `latency` starts our server (gunicorn, 2
workers x 8 threads, the indexer off, no rate limit) and sends GET /api/v1/logs?q=... as the
tenant `search-main` from `--concurrency` threads, each walking every query shape in its own
shuffled order `--rounds` times; the client-side time of each answer is recorded, per shape,
with and without a date range (the last 7 days) and a status filter (FAILED,ERROR). 422 answers
are counted apart. The words are picked from the data itself (their document frequency in the
tenant's newest day is printed). `explain` prints EXPLAIN (ANALYZE, BUFFERS) of every statement
one search of each shape runs. `ingest-ab`: POST /api/v1/logs/batch (100 realistic logs per
request, 4 client threads) for `--seconds`, alternating search on (the insert trigger queues,
the indexer thread of each worker indexes) and off (the trigger disabled), `--rounds` pairs.
Run each under `flock /work/notes/bench.lock`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from search_seed import setup_django  # noqa: E402

SHAPES = {
    "rare word": None,  # picked from the data
    "common word": None,
    "two common words": None,
    "phrase (common words)": None,
    "phrase, no match (common words)": None,
    "ticket prefix": None,
    "code prefix": "product_sku",
    "Japanese": "起動しない",  # in the generator's Japanese text (再起動, used before, occurs in none)
    "German, accents folded": "gerat",
    "no match": "zzqxvwordless",
}


def _pick_words(client_id: int) -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            "SELECT word, ndoc FROM ts_stat($$SELECT doc FROM logs_search_docs WHERE client_id = " + str(client_id)
            + " AND executed_at > (SELECT max(executed_at) FROM logs_search_docs WHERE client_id = " + str(client_id)
            + ") - interval '1 day'$$) WHERE word ~ '^[a-z]{5,}$' ORDER BY ndoc DESC")
        stats = cursor.fetchall()
        cursor.execute("SELECT ticket_id FROM workflow_logs WHERE client_id = %s AND ticket_id ~ '^[0-9]{7}$' "
                       "ORDER BY executed_at DESC LIMIT 1", [client_id])
        ticket = cursor.fetchone()[0]
        cursor.execute("SELECT payload #>> '{trace,react_iterations,0,thought}' FROM workflow_logs WHERE client_id = %s "
                       "AND payload #>> '{trace,react_iterations,0,thought}' ~ '^[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ ' "
                       "ORDER BY executed_at DESC LIMIT 1", [client_id])
        phrase = " ".join(cursor.fetchone()[0].split()[:3])
    common = [w for w, _ in stats[:5]]
    rare = next((w for w, n in reversed(stats) if n >= 2), stats[-1][0])  # the rarest seen twice
    print(f"words of the newest day: {len(stats)} distinct; common {stats[:5]}; rare {rare!r}")
    return {"rare word": rare, "common word": common[0], "two common words": f"{common[1]} {common[2]}",
            "phrase (common words)": f'"{phrase}"', "phrase, no match (common words)":
            f'"{common[3]} {common[4]} {common[2]} {common[0]}"', "ticket prefix": ticket[:5]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(url: str, **env: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    environ = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "search-bench", "API_KEY_PEPPER": "search-bench",
               "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": "", "WEB_CONCURRENCY": "2",
               "GUNICORN_THREADS": "8", "GUNICORN_ACCESSLOG": "/dev/null", "HOST": "127.0.0.1", "PORT": str(port),
               "LOG_LEVEL": "ERROR", "RATE_LIMIT_READ": "1000000/min", "RATE_LIMIT_INGEST": "1000000/min",
               "DJANGO_SETTINGS_MODULE": "central_logger.settings", **env}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "central_logger.wsgi", "-c", "gunicorn.conf.py"],
                            cwd=ROOT, env=environ)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(base + "/health", timeout=5)
            return proc, base
        except OSError:  # refused while it starts, or a slow first answer
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the server did not start")


def _key(slug: str) -> str:
    from tenants.models import Client
    from tenants.services import api_key_issue

    client, _ = Client.objects.get_or_create(slug=slug, defaults={"name": slug})
    return api_key_issue(client=client, name="search-bench", scopes=["read", "ingest"]).plaintext


def _get(base: str, key: str, params: dict[str, str]) -> tuple[int, float]:
    request = urllib.request.Request(f"{base}/api/v1/logs?{urllib.parse.urlencode(params)}",
                                     headers={"Authorization": f"Bearer {key}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, (time.perf_counter() - started) * 1000


def latency(url: str, rounds: int, concurrency: int) -> None:
    setup_django(url)
    import datetime as dt

    from tenants.models import Client

    client = Client.objects.get(slug="search-main")
    shapes = {**SHAPES, **_pick_words(client.pk)}
    key = _key("search-main")
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)).date().isoformat()
    variants = {"": {}, "7 days + FAILED,ERROR": {"start_date": since, "status": "FAILED,ERROR"}}
    cells = [(shape, variant) for shape in shapes for variant in variants]
    proc, base = _server(url, SEARCH_INDEX_INTERVAL="0")
    times: dict[tuple[str, str], list[float]] = {cell: [] for cell in cells}
    statuses: dict[tuple[str, str], dict[int, int]] = {cell: {} for cell in cells}
    lock = threading.Lock()
    try:
        for shape, variant in cells:  # warm-up: one of each, not recorded
            _get(base, key, {"q": shapes[shape], **variants[variant]})

        def worker(seed: int) -> None:
            order = list(cells)
            rng = random.Random(seed)
            for _ in range(rounds):
                rng.shuffle(order)
                for shape, variant in order:
                    status, ms = _get(base, key, {"q": shapes[shape], **variants[variant]})
                    with lock:
                        statuses[(shape, variant)][status] = statuses[(shape, variant)].get(status, 0) + 1
                        if status == 200:
                            times[(shape, variant)].append(ms)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()
    print(f"\n{sum(len(v) for v in times.values())} answers in {elapsed:.0f} s at {concurrency} concurrent searches\n")
    print("| query | q | filters | p50 ms | p99 ms | answers | not 200 |")
    print("|---|---|---|---:|---:|---:|---|")
    for (shape, variant), values in times.items():
        values.sort()
        p50 = statistics.median(values) if values else float("nan")
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] if values else float("nan")
        other = {s: n for s, n in statuses[(shape, variant)].items() if s != 200}
        print(f"| {shape} | `{shapes[shape]}` | {variant or '-'} | {p50:.0f} | {p99:.0f} | {len(values)} | "
              f"{json.dumps(other) if other else ''} |")


def explain(url: str) -> None:
    setup_django(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from logs.filters import LogFilterSet, validated_filters
    from query import search
    from tenants.models import Client

    client = Client.objects.get(slug="search-main")
    shapes = {**SHAPES, **_pick_words(client.pk)}
    for shape, q in shapes.items():
        filters = validated_filters(LogFilterSet, {"q": q})
        filters.pop("q")
        with CaptureQueriesContext(connection) as captured:
            try:
                rows, _ = search.search_list(client, q, filters, ordering="-executed_at", page=1, page_size=50,
                                             cursor_mode=False, after=None, columns=("id", "executed_at", "status"))
                outcome = f"{len(rows)} rows"
            except search.SearchTooBroad:
                outcome = "422 search_too_broad"
        statements = [c["sql"] for c in captured.captured_queries if "logs_search_docs d" in c["sql"]]
        print(f"\n### {shape}: q={q} ({outcome}, {len(statements)} statement(s) on the docs)\n")
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            for sql in statements[:2]:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS off) " + sql)
                print("```\n" + "\n".join(row[0] for row in cursor.fetchall()) + "\n```")


def ingest_ab(url: str, rounds: int, seconds: float) -> None:
    setup_django(url)
    import datetime as dt

    from django.db import connection

    from bench.realistic import generator, realistic_log

    key = _key("search-writer")
    gen = generator(anchor=dt.datetime.now(dt.timezone.utc))
    bodies = [json.dumps({"logs": [{**realistic_log(gen, 50_000_000 + b * 100 + i, client_id="w"), "event_id": None}
                                   for i in range(100)]}).encode() for b in range(40)]
    proc, base = _server(url, SEARCH_INDEX_INTERVAL="1")
    results: dict[str, list[float]] = {"on": [], "off": []}

    def set_search(on: bool) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE workflow_logs {'ENABLE' if on else 'DISABLE'} TRIGGER logs_search_insert")

    def post(body: bytes) -> int:
        request = urllib.request.Request(f"{base}/api/v1/logs/batch", data=body, method="POST", headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status

    try:
        for r in range(rounds):
            for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
                set_search(mode == "on")
                stored, stop = [0], time.perf_counter() + seconds
                lock = threading.Lock()

                def worker(i: int) -> None:
                    n = i
                    while time.perf_counter() < stop:
                        if post(bodies[n % len(bodies)]) == 201:
                            with lock:
                                stored[0] += 100
                        n += 4

                threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                rate = stored[0] / (time.perf_counter() - started)
                results[mode].append(rate)
                print(f"round {r + 1} search {mode}: {rate:.0f} logs/s", flush=True)
                time.sleep(3)  # the indexer catches up between rounds
    finally:
        set_search(True)
        proc.terminate()
        proc.wait()
    ratios = [a / b for a, b in zip(results["on"], results["off"])]
    print(f"search on / off, per pair: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["latency", "explain", "ingest-ab"])
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if args.step == "latency":
        latency(args.url, args.rounds or 12, args.concurrency)
    elif args.step == "explain":
        explain(args.url)
    else:
        ingest_ab(args.url, args.rounds or 3, args.seconds)


if __name__ == "__main__":
    main()
