"""Make a freshly forked gunicorn worker ready before it accepts requests (gunicorn.conf.py).

After a reload (SIGHUP) gunicorn stops the old workers as soon as it has forked the new ones,
so requests wait in the listen backlog until a new worker accepts. Without a warm-up, the first
of them then also paid for what a worker otherwise does lazily: opening its PostgreSQL pool (the
chaos test saw a request wait on that pool, spool, and answer after 2.9 s), importing every view
(the URL resolver), opening the spool file (what the apps register with `register_preparation`). The imports happen once in the master
(`warm_master`, with preload_app) so every fork inherits them. `warm_worker` does that work before the worker accepts, with a
bound (`WORKER_WARMUP_SECONDS`) so an unreachable database delays boot by at most that much;
if PostgreSQL does not answer in time, the ingestion circuit breaker is opened so the first
requests go straight to the spool instead of each waiting for the pool (central_logger/dbguard.py).
"""
from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.urls import resolve

from central_logger import dbguard

logger = logging.getLogger("central_logger.warmup")


def warm_master() -> None:
    """In the gunicorn master (preload_app), before any fork: import what the first request would.

    Resolving a URL imports every view, serializer and filter module (0.5 s of CPU here, several
    seconds on a loaded machine); done once in the master, every forked worker inherits it.
    Nothing here opens a connection or a file: those must not cross a fork.

    Then every object alive so far (~86,000: modules, classes, settings, URL patterns) is moved
    out of the garbage collector's sight (`gc.freeze()`), once, for every worker to inherit: a
    full collection in a worker then examines only what it allocated itself (measured: 18 ms
    of one core per full collection before, nothing after), and collecting no longer writes to
    those objects' memory pages, which the forked workers otherwise stop sharing.
    """
    resolve("/api/v1/logs")  # imports every view, and with them ingestion, the spool, the SQL

    gc.collect()  # nothing that is already garbage gets frozen
    gc.freeze()


# What a worker prepares before it accepts, registered by the apps that own it (AppConfig.ready()).
_preparations: dict[str, Callable[[], Any]] = {}


def register_preparation(name: str, prepare: Callable[[], Any]) -> None:
    _preparations[name] = prepare


def warm_pool(pool: Any, timeout: float) -> bool:
    """Open `pool` and wait (at most `timeout` s) until it has handed out one working connection."""
    pool.open(wait=False)
    try:
        # getconn, not pool.wait(): on a timeout that one closes the pool for good.
        conn = pool.getconn(timeout=timeout)
    except Exception:
        return False
    pool.putconn(conn)
    return True


def warm_worker(*, timeout: float) -> dict[str, Any]:
    """Warm this process; returns what was ready (logged by the gunicorn hook)."""
    started = time.monotonic()
    state: dict[str, Any] = {}
    resolve("/api/v1/logs")  # a no-op after warm_master(); without preload_app, the imports happen here
    for name, prepare in _preparations.items():
        try:
            prepare()
            state[name] = "ok"
        except Exception as exc:  # a worker without it still serves; readiness reports it
            state[name] = exc.__class__.__name__
    pool = getattr(connections["default"], "pool", None)
    if pool is not None:
        ready = warm_pool(pool, timeout)
        state["database"] = "ok" if ready else "unavailable"
        if not ready:
            dbguard.mark_failure()
    state["seconds"] = round(time.monotonic() - started, 3)
    return state


def warmup_timeout() -> float:
    return float(settings.WORKER_WARMUP_SECONDS)


def tune_gc() -> tuple[int, int, int]:
    """A gunicorn worker's youngest garbage-collector generation: GC_GEN0_THRESHOLD allocations
    (Python's default 700; 0 keeps it). A request allocates thousands of objects, so with 700
    the collector ran several times per request, re-examining the same young objects each time.
    Measured with callgrind (bench/README.md): 5,000 took 7 % of the instructions of a 50-row
    list page and 3.6 % per log of a 100-log batch; 20,000 and 50,000 gained less."""
    gen0 = int(settings.GC_GEN0_THRESHOLD)
    if gen0 > 0:
        gc.set_threshold(gen0, *gc.get_threshold()[1:])
    return gc.get_threshold()
