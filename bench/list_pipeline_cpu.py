"""Our process's CPU per list request with the page and its count pipelined (one round trip,
psycopg's pipeline mode) or sent one after the other (two round trips), interleaved.

    DATABASE_URL=postgres://root@127.0.0.1:5432/<bench db> python bench/list_pipeline_cpu.py <read key> [rounds] [requests]

In one process through Django's test client (the middleware, the deadline guard on every socket
wait of central_logger/dbguard.py, the serializers), `GET /api/v1/logs?status=FAILED`; per round
`requests` requests with the pipeline (A) and as many without (B: psycopg told that pipelines are
unsupported, the fallback of central_logger/postgres/base.py). Prints the median and range of
`time.process_time()` per request for each and the ratio A / B per round.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402

PATH = "/api/v1/logs?status=FAILED"


def _cpu_per_request(client: HttpClient, requests: int, pipeline: bool) -> float:
    supported = psycopg.Pipeline.is_supported
    if not pipeline:
        psycopg.Pipeline.is_supported = classmethod(lambda cls: False)  # type: ignore[method-assign]
    try:
        start = time.process_time()
        for _ in range(requests):
            response = client.get(PATH)
            assert response.status_code == 200, response.content[:300]
        return (time.process_time() - start) / requests
    finally:
        psycopg.Pipeline.is_supported = supported  # type: ignore[method-assign]


def main() -> None:
    key = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    client = HttpClient(HTTP_X_API_KEY=key)
    _cpu_per_request(client, 20, True)
    _cpu_per_request(client, 20, False)  # warm both paths
    a, b = [], []
    for _ in range(rounds):
        a.append(_cpu_per_request(client, requests, True))
        b.append(_cpu_per_request(client, requests, False))
    ratios = [x / y for x, y in zip(a, b)]
    print(f"{rounds} rounds of {requests} x GET {PATH}; load average {os.getloadavg()[0]:.2f}")
    print(f"  pipelined (A): {statistics.median(a) * 1e6:,.0f} µs CPU/request ({min(a) * 1e6:,.0f}-{max(a) * 1e6:,.0f})")
    print(f"  serial (B):    {statistics.median(b) * 1e6:,.0f} µs CPU/request ({min(b) * 1e6:,.0f}-{max(b) * 1e6:,.0f})")
    print(f"  A / B: median {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}), "
          f"A < B in {sum(r < 1 for r in ratios)} of {rounds}")


if __name__ == "__main__":
    main()
