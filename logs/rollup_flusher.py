"""The background thread that folds pending logs into the metrics rollup (logs/rollups.py).

One per app process (started by gunicorn's worker hook, and lazily by ingestion like the spool
drainer). Several flushers share the work safely: each takes the rows no other one holds
(FOR UPDATE SKIP LOCKED inside logs_rollup_flush). Reads are exact whether or not a flusher runs
(they add the pending rows themselves); flushing keeps that part of every read small.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from central_logger import dbguard
from logs import rollups

logger = logging.getLogger("central_logger.rollups")
BATCH = 50_000
VACUUM_EVERY_SECONDS = 60.0

_lock = threading.Lock()
_thread: threading.Thread | None = None
_pid: int | None = None
_stop = threading.Event()


def _flush_forever() -> None:
    interval = settings.ROLLUP_FLUSH_INTERVAL
    last_vacuum = time.monotonic()
    while not _stop.wait(interval):
        try:
            with dbguard.db_deadline(settings.ROLLUP_FLUSH_DEADLINE):
                while rollups.flush(BATCH) == BATCH and not _stop.is_set():
                    pass  # a backlog (after an outage or a bulk load): keep going
                if time.monotonic() - last_vacuum >= VACUUM_EVERY_SECONDS:
                    last_vacuum = time.monotonic()
                    rollups.vacuum_pending()
        except Exception:  # the flusher must survive anything and try again next round
            logger.warning("rollup flush failed; retrying in %ss", interval, exc_info=True)
        finally:
            close_old_connections()
            connection.close()  # give the connection back to the pool between rounds


def ensure_flusher() -> None:
    """Start this process's flusher once (after gunicorn forked us); no-op off PostgreSQL."""
    global _thread, _pid
    if settings.ROLLUP_FLUSH_INTERVAL <= 0 or not rollups.available():
        return
    if _thread is not None and _pid == os.getpid() and _thread.is_alive():
        return
    with _lock:
        if _thread is not None and _pid == os.getpid() and _thread.is_alive():
            return
        _stop.clear()
        _thread = threading.Thread(target=_flush_forever, name="rollup-flusher", daemon=True)
        _pid = os.getpid()
        _thread.start()


def stop_flusher(timeout: float = 5.0) -> None:
    """Stop this process's flusher (tests; gunicorn simply exits)."""
    global _thread
    _stop.set()
    if _thread is not None:
        _thread.join(timeout)
    _thread = None
