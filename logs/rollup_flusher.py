"""The background thread that folds pending logs into the metrics rollup (logs/rollups.py).

One per app process (started by gunicorn's worker hook, and lazily by ingestion like the spool
drainer). Several flushers share the work safely: each takes the rows no other one holds
(FOR UPDATE SKIP LOCKED inside logs_rollup_flush). Reads are exact whether or not a flusher runs
(they add the pending rows themselves); flushing keeps that part of every read small.
"""
from __future__ import annotations

import time

from django.conf import settings

from central_logger import dbguard
from central_logger.background import ProcessLoop
from logs import rollups

BATCH = 50_000
VACUUM_EVERY_SECONDS = 60.0

_last_vacuum = time.monotonic()


def _flush_round() -> None:
    global _last_vacuum
    with dbguard.db_deadline(settings.ROLLUP_FLUSH_DEADLINE):
        while rollups.flush(BATCH) == BATCH and not _flusher.stopping:
            pass  # a backlog (after an outage or a bulk load): keep going
        if time.monotonic() - _last_vacuum >= VACUUM_EVERY_SECONDS:
            _last_vacuum = time.monotonic()
            rollups.vacuum_pending()


def _flush_interval() -> float:
    return settings.ROLLUP_FLUSH_INTERVAL if rollups.available() else 0  # no rollup off PostgreSQL


_flusher = ProcessLoop("rollup-flusher", _flush_interval, _flush_round)
ensure_flusher = _flusher.ensure
stop_flusher = _flusher.stop
