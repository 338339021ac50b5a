"""Our process's CPU per list request with the page and its count pipelined (one round trip,
psycopg's pipeline mode), pipelined with the results fetched inside the pipeline block (as before
issue 24's fix: two round trips, the second for leaving the block) or sent one after the other
(two round trips), interleaved.

    DATABASE_URL=postgres://root@127.0.0.1:5432/<bench db> python bench/list_pipeline_cpu.py <read key> [rounds] [requests]

In one process through Django's test client (the middleware, the deadline guard on every socket
wait of central_logger/dbguard.py, the serializers), `GET /api/v1/logs?status=FAILED`; per round
`requests` requests with the pipeline (A), with the pipeline as before (C) and without (B: psycopg
told that pipelines are unsupported, the fallback of central_logger/postgres/base.py). Prints the
median and range of `time.process_time()` per request for each and the ratios to B per round.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402


PATH = "/api/v1/logs?status=FAILED"


_PIPELINE = psycopg.Connection.pipeline


@contextmanager
def _synced_inside(self):  # noqa: ANN001, ANN202 - as replaced
    """A pipeline block that syncs before it ends: the results come back inside the block, and
    leaving it costs its own Sync, as when they were fetched inside (before the fix)."""
    with _PIPELINE(self) as pipeline:
        yield pipeline
        pipeline.sync()


def _cpu_per_request(client: HttpClient, requests: int, mode: str) -> float:
    supported = psycopg.Pipeline.is_supported
    if mode == "serial":
        psycopg.Pipeline.is_supported = classmethod(lambda cls: False)  # type: ignore[method-assign]
    elif mode == "before":
        psycopg.Connection.pipeline = _synced_inside  # type: ignore[method-assign]
    try:
        start = time.process_time()
        for _ in range(requests):
            response = client.get(PATH)
            assert response.status_code == 200, response.content[:300]
        return (time.process_time() - start) / requests
    finally:
        psycopg.Pipeline.is_supported = supported  # type: ignore[method-assign]
        psycopg.Connection.pipeline = _PIPELINE  # type: ignore[method-assign]


def main() -> None:
    key = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    client = HttpClient(HTTP_X_API_KEY=key)
    modes = {"pipelined (A)": "pipeline", "pipelined, fetched inside (C)": "before", "serial (B)": "serial"}
    for mode in modes.values():
        _cpu_per_request(client, 20, mode)  # warm every path
    cpu: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(rounds):
        for name, mode in modes.items():
            cpu[name].append(_cpu_per_request(client, requests, mode))
    print(f"{rounds} rounds of {requests} x GET {PATH}; load average {os.getloadavg()[0]:.2f}")
    serial = cpu["serial (B)"]
    for name, values in cpu.items():
        ratios = [x / y for x, y in zip(values, serial)]
        print(f"  {name:30} {statistics.median(values) * 1e6:,.0f} µs CPU/request "
              f"({min(values) * 1e6:,.0f}-{max(values) * 1e6:,.0f}); / B: median {statistics.median(ratios):.3f} "
              f"({min(ratios):.3f}-{max(ratios):.3f}), below B in {sum(r < 1 for r in ratios)} of {rounds}")

if __name__ == "__main__":
    main()
