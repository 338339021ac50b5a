"""A new gunicorn worker opens its pool and spool before accepting, bounded when PostgreSQL is away."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import connections

from central_logger import dbguard
from central_logger.warmup import warm_pool, warm_worker

psycopg_pool = pytest.importorskip("psycopg_pool")


def unreachable_pool() -> Any:
    # Port 1 on loopback: nothing listens, every connection attempt is refused at once, and the
    # pool keeps retrying in the background, as it would during an outage.
    return psycopg_pool.ConnectionPool("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1",
                                       open=False, min_size=1, timeout=5)


@pytest.mark.django_db
def test_warm_worker_leaves_a_ready_connection_and_the_spool_open(settings: Any) -> None:
    pool = connections["default"].pool
    state = warm_worker(timeout=5)
    assert state["database"] == "ok" and state["spool"] == "ok"
    assert pool.get_stats()["pool_available"] >= 1  # an idle connection waits for the first request
    assert Path(settings.SPOOL_PATH).exists()
    assert not dbguard.circuit_open()


def test_an_unreachable_database_delays_the_worker_at_most_the_bound() -> None:
    pool = unreachable_pool()
    try:
        started = time.monotonic()
        assert warm_pool(pool, 0.3) is False
        assert time.monotonic() - started < 1.0
        assert not pool.closed  # still usable once the database is back (pool.wait() would close it)
    finally:
        pool.close(timeout=1)


@pytest.mark.django_db
def test_an_unreachable_database_opens_the_ingestion_circuit() -> None:
    pool = unreachable_pool()
    wrapper = type(connections["default"])
    try:
        with mock.patch.object(wrapper, "pool", new_callable=mock.PropertyMock, return_value=pool, create=True):
            state = warm_worker(timeout=0.3)
        assert state["database"] == "unavailable"
        assert state["seconds"] < 1.0
        assert dbguard.circuit_open()  # the first requests spool at once instead of each waiting
    finally:
        pool.close(timeout=1)


def test_warm_master_imports_the_views_without_opening_anything() -> None:
    import subprocess
    import sys

    # A fresh interpreter: after warm_master() the view modules are imported, and no database
    # connection or spool file was opened (neither may cross gunicorn's fork). What the imports
    # created is frozen: the collector of a forked worker no longer examines it.
    code = (
        "import django, sys; django.setup()\n"
        "from django.db import connections\n"
        "from central_logger.warmup import warm_master\n"
        "warm_master()\n"
        "assert 'query.views' in sys.modules and 'spool.store' in sys.modules, sorted(sys.modules)\n"
        "assert connections['default'].connection is None\n"
        "from spool import store\n"
        "assert not getattr(store._local, 'conns', None)\n"
        "import gc\n"
        "assert gc.get_freeze_count() > 20000, gc.get_freeze_count()\n"
        "assert len(gc.get_objects()) < 2000, len(gc.get_objects())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=str(Path(__file__).resolve().parents[2]))
    assert result.returncode == 0, result.stderr[-2000:]


def test_tune_gc_sets_the_youngest_generation_and_keeps_the_others(settings: Any) -> None:
    import gc

    from central_logger.warmup import tune_gc

    before = gc.get_threshold()
    try:
        settings.GC_GEN0_THRESHOLD = 5000
        assert tune_gc() == (5000, *before[1:])
        settings.GC_GEN0_THRESHOLD = 0  # 0 leaves whatever is set
        assert tune_gc() == (5000, *before[1:])
    finally:
        gc.set_threshold(*before)
