"""CPU per log of a 100-log batch, by stage, in one process (`time.process_time`, minimum of
several rounds, so a busy machine moves it less than wall-clock rates):

    BENCH_DJANGO_DB=bench_django .venv/bin/python bench/batch_cpu.py [rounds]

The whole request through Django's test client (authentication, view, storage, response; the
stored rows are deleted again in the same transaction, rolled back), and each stage of
ingestion's path on its own on the same body: body parse, validation, scrubbing, ids and row
encoding, the INSERT's execution on the client side (psycopg's dumpers and the round trip; the
server's CPU is not counted). Needs the bench fixture's keys (var/bench-targets.json), as
bench/callgrind.sh does.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import django
import orjson

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.harness import load_gen  # noqa: E402
from ingestion import body as body_mod  # noqa: E402
import psycopg  # noqa: E402

from logs.ids import uuid7_for  # noqa: E402
from ingestion import services  # noqa: E402
from logs.tenant_sql import writes  # noqa: E402
from scrubbing.services import scrub_items  # noqa: E402
from tenants.models import Client  # noqa: E402

LOGS = 100


class _Rollback(Exception):
    pass


def _best(rounds: int, fn: Callable[[], Any]) -> float:
    """Minimum CPU seconds of `fn()` over `rounds` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _orjson_parse(raw: bytes) -> Any:
    """What ingestion/body.py did before parse_batch: orjson, the depth check, the NUL flag."""
    data = orjson.loads(raw)
    assert not body_mod.json_depth_exceeds(raw, 64)
    return body_mod.JsonBody(data=data, has_nul=b"\\u0000" in raw)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    gc.set_threshold(int(os.environ.get("GC_GEN0_THRESHOLD", "5000")), *gc.get_threshold()[1:])
    targets = json.load(open(os.environ.get("TARGETS", "var/bench-targets.json")))
    ours = next(t for t in targets if t["name"] == "django")
    gen = load_gen()
    logs = [json.loads(gen.dumps(b)) for b in gen.LogGen(seed=11, client_id="bench-writer").logs(LOGS)]
    raw = json.dumps({"logs": logs}).encode()
    client = Client.objects.get(slug="bench-writer")
    http = HttpClient(HTTP_X_API_KEY=ours["write_api_key"])

    def request() -> None:
        try:
            with transaction.atomic():
                response = http.post("/api/v1/logs/batch", raw, content_type="application/json")
                assert response.status_code == 201, response.content[:300]
                raise _Rollback
        except _Rollback:
            pass

    # CODE=<older checkout> (PYTHONPATH first): its road, the whole body decoded by orjson.
    parse = getattr(body_mod, "parse_batch", None) or _orjson_parse
    parsed = parse(raw)
    if getattr(parsed, "raw_values", False):
        from ingestion.validation import clean_raw_log

        def validate() -> list[Any]:
            return [clean_raw_log(one)[0] for one in parsed.data["logs"]]
    else:
        def validate() -> list[Any]:
            return [services.log_prepare(one, has_nul=parsed.has_nul)[0] for one in parsed.data["logs"]]

    stages: dict[str, Callable[[], Any]] = {"body parse": lambda: parse(raw), "validation": validate}
    prepared = validate()
    # Scrubbing scrubs fresh items (it marks them); the harness's logs hold no secrets, so this
    # is the common path: the prefilter's one pass says nothing is to be done.
    stages["scrubbing + validation"] = lambda: scrub_items(client, validate())
    now = timezone.now()

    def encode() -> Any:
        ids = iter(uuid7_for([f["executed_at"] for f in prepared]))
        items = [{"id": next(ids), **f} for f in prepared]
        return writes.insert_statement(client, [writes.stored_row(f, now) for f in items], now)

    stages["ids + row encoding"] = encode
    sql, params = encode()

    def execute() -> None:
        try:
            with transaction.atomic():
                connection.ensure_connection()
                with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
                    cursor.execute(sql, params)
                    cursor.fetchall()
                raise _Rollback
        except _Rollback:
            pass

    stages["INSERT execute (client side)"] = execute
    for _ in range(3):
        request()
    total = _best(rounds, request)
    print(f"{LOGS}-log batch of {len(raw)} bytes, min of {rounds} rounds, CPU µs per log:")
    print(f"  whole request (test client, rolled back): {total / LOGS * 1e6:7.1f}")
    measured = {name: _best(rounds, fn) / LOGS * 1e6 for name, fn in stages.items()}
    measured["scrubbing"] = measured.pop("scrubbing + validation") - measured["validation"]
    for name, value in measured.items():
        print(f"  {name:40s} {value:7.1f}")
    rest = total / LOGS * 1e6 - sum(measured.values())
    print(f"  {'rest (HTTP, DRF, auth, transaction, response)':40s} {rest:7.1f}")
    connection.close()


if __name__ == "__main__":
    main()
