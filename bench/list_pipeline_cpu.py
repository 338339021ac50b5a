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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central_logger.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402

from central_logger.postgres import base  # noqa: E402

PATH = "/api/v1/logs?status=FAILED"


def _fetched_inside(self, statements, *, prepare_first=True):  # noqa: ANN001, ANN202 - as replaced
    """fetch_prepared_many as it was before the fix: results fetched inside the pipeline block."""
    self.ensure_connection()
    prepare = bool(base.settings.DB_PREPARED_STATEMENTS)
    if prepare and self.connection.prepare_threshold is None:
        self.connection.prepare_threshold = base._NEVER
    cursors = []
    for index in range(len(statements)):
        raw = self._fast_timestamps(base._PreparingCursor(self.connection))
        raw.prepare = prepare and (prepare_first or index > 0)
        cursors.append(self._prepare_cursor(raw))
    try:
        with self.wrap_database_errors, self.connection.pipeline():
            for each, (sql, params) in zip(cursors, statements):
                each.execute(sql, params)
            return [each.fetchall() for each in cursors]
    finally:
        for each in cursors:
            each.close()


def _cpu_per_request(client: HttpClient, requests: int, mode: str) -> float:
    supported, current = psycopg.Pipeline.is_supported, base.DatabaseWrapper.fetch_prepared_many
    if mode == "serial":
        psycopg.Pipeline.is_supported = classmethod(lambda cls: False)  # type: ignore[method-assign]
    elif mode == "before":
        base.DatabaseWrapper.fetch_prepared_many = _fetched_inside  # type: ignore[method-assign]
    try:
        start = time.process_time()
        for _ in range(requests):
            response = client.get(PATH)
            assert response.status_code == 200, response.content[:300]
        return (time.process_time() - start) / requests
    finally:
        psycopg.Pipeline.is_supported = supported  # type: ignore[method-assign]
        base.DatabaseWrapper.fetch_prepared_many = current  # type: ignore[method-assign]


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
