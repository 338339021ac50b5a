"""Serving normally within 2 s of PostgreSQL's return, whatever the outage's length (issue 19).

psycopg's pool retried a lost server with exponential backoff (1, 2, 4, 8 s, ...), so reads kept
answering 503 and ingestion kept spooling for seconds after the database was back (7.2 s after a
20 s outage, 23.1 s after 35 s). Here a real gunicorn reaches the test PostgreSQL through a TCP
proxy that the test cuts for 8 s (connections refused, open ones closed: the server "stopped"),
long enough for the old backoff to wait 8 s more; a client probes every 100 ms with a POST and a
read, as scripts/recovery_drill.py does against a really stopped PostgreSQL.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from central_logger.tests.live import LiveServer, load_script
from central_logger.tests.tcp_proxy import TcpProxy
from conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)
drill = load_script("recovery_drill")
OUTAGE_SECONDS = 8.0
AFTER_SECONDS = 4.0


@pytest.fixture
def proxy(transactional_db: Any) -> Iterator[TcpProxy]:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)
    target: tuple[str, int] | str = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
    proxy = TcpProxy(target).resume()
    yield proxy
    proxy.cut()


def test_service_is_normal_within_2_seconds_of_the_database_coming_back(proxy: TcpProxy, tmp_path: Path) -> None:
    db = connection.settings_dict
    tenant = make_tenant("recovery")
    url = f"postgres://{db['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{db['NAME']}"
    with LiveServer(threads=None, env={
            "DATABASE_URL": url, "SPOOL_PATH": str(tmp_path / "spool.sqlite3"), "GUNICORN_ACCESSLOG": "",
            "KEY_SNAPSHOT_PATH": str(tmp_path / "keys.sqlite3"), "INGEST_DB_TIMEOUT_MS": "1000",
            "RATE_LIMIT_INGEST": "", "RATE_LIMIT_READ": ""}) as server:
        prober = drill.Prober(server.port, tenant.key)
        prober.start()
        time.sleep(1.5)
        down = time.time()
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.resume()
        back = time.time()
        time.sleep(AFTER_SECONDS + 0.5)
        prober.stop()
    # During: leave out the first second (requests already under way) and the last one (a read
    # waits up to DB_POOL_TIMEOUT for a connection, and gets one once the database is back).
    during, after = prober.between(down + 1.0, back - 1.0), prober.between(back, back + AFTER_SECONDS)
    assert set(drill.outcomes(during, "post")) == {"202"}, drill.outcomes(during, "post")  # spooled, none lost
    assert set(drill.outcomes(during, "read")) == {"503"}, drill.outcomes(during, "read")
    recovery = {kind: drill.recovery_seconds(after, kind, back) for kind in drill.NORMAL}
    assert all(seconds is not None and seconds <= 2.0 for seconds in recovery.values()), (
        recovery, drill.outcomes(after, "post"), drill.outcomes(after, "read"))
