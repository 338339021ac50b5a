"""The background thread that folds pending logs into the metrics rollup (metrics/rollup.py).

One per app process (registered from MetricsConfig.ready(), started by gunicorn's worker hook or
the first ingestion). Several flushers share the work safely: each takes the rows no other one
holds (FOR UPDATE SKIP LOCKED inside logs_rollup_flush). Reads are exact whether or not a
flusher runs (they add the pending rows themselves); flushing keeps that part of every read
small.
"""
from __future__ import annotations

import time

from django.conf import settings

from central_logger import dbguard
from central_logger.background import ProcessLoop
from logs.tenant_sql.across_tenants import dangerously_flush_rollups, dangerously_vacuum_pending

BATCH = 50_000
VACUUM_EVERY_SECONDS = 60.0

_last_vacuum = time.monotonic()


def flush_all(batch: int = BATCH) -> int:
    """Fold every pending log in (tests, the flush_rollups command)."""
    total = 0
    while moved := dangerously_flush_rollups(batch):
        total += moved
    return total


def _flush_round() -> None:
    global _last_vacuum
    with dbguard.db_deadline(settings.ROLLUP_FLUSH_DEADLINE):
        while dangerously_flush_rollups(BATCH) >= BATCH and not flusher.stopping:
            pass  # a backlog (after an outage or a bulk load): keep going
        if time.monotonic() - _last_vacuum >= VACUUM_EVERY_SECONDS:
            _last_vacuum = time.monotonic()
            dangerously_vacuum_pending()


flusher = ProcessLoop("rollup-flusher", lambda: settings.ROLLUP_FLUSH_INTERVAL, _flush_round)
