"""The dashboard's reads against a real streaming replica: a private primary made with initdb and
its replica made with pg_basebackup -R (replica_cluster.py), the service in gunicorn between
them, exactly as deployed with DATABASE_REPLICA_URL.

Proven through the API: the list, the metrics and the export answer from the replica (with its
replay paused, they give the replica's older answer while the primary already has more), the
rollup's figures on the replica are exact for the replica's own snapshot, a replica behind by
more than REPLICA_MAX_LAG_SECONDS or gone is skipped within the same request (no 5xx) and used
again once it has caught up, and the detail by id (read-your-writes) stays on the primary.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central_logger.tests.replica_cluster import Cluster, _free_port, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
MAX_LAG = 2.0

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: Any) -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start_primary()
        env = _env(made, tmp_path_factory.mktemp("replica-live"), check_interval=0.1)
        _manage(env, "migrate", "--noinput", "-v0")
        made.start_replica()  # a copy of the migrated primary
        yield made
    finally:
        made.stop()


def _env(cluster: Cluster, tmp: Path, *, check_interval: float) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_REPLICA_URL")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "central_logger.settings_test",
        "DATABASE_URL": cluster.url(cluster.primary_port),
        "DATABASE_REPLICA_URL": cluster.url(cluster.replica_port),
        "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG), "REPLICA_CHECK_INTERVAL": str(check_interval),
        "ROLLUP_FLUSH_INTERVAL": "0.2", "LOG_PARTITION_MAINTENANCE_INTERVAL": "0", "SPOOL_DRAIN_INTERVAL": "0",
        "SPOOL_PATH": str(tmp / "spool.sqlite3"), "KEY_SNAPSHOT_PATH": str(tmp / "keys.sqlite3"),
        "GUNICORN_ACCESSLOG": "", "WEB_CONCURRENCY": "1", "DB_STATEMENT_TIMEOUT_MS": "10000",
    })
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    return done.stdout


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port, self.env, self.log = _free_port(), env, log
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "central_logger.wsgi", "-c", "gunicorn.conf.py",
                 "--bind", f"127.0.0.1:{self.port}"], cwd=ROOT, env=env, stdout=out, stderr=out,
                start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)

    def call(self, path: str, key: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path + query, data=data, method="POST" if data else "GET",
                                         headers={"X-API-Key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()


@pytest.fixture(scope="module")
def service(cluster: Cluster, tmp_path_factory: Any) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("replica-service")
    env = _env(cluster, tmp, check_interval=0.1)
    _manage(env, "create_client", "live")
    key = _manage(env, "issue_api_key", "live", "--quiet").strip()
    server = Server(env, tmp / "server.log")
    yield server, key
    server.stop()


def _log(i: int, category: str = "billing") -> dict[str, Any]:
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30 + i)
    return {"environment": "production", "executed_at": when.isoformat(), "status": "SUCCESS" if i % 3 else "FAILED",
            "ticket_id": f"T-{i}", "execution_time_seconds": 1.0 + i, "category": category}


def _figures(server: Server, key: str) -> tuple[int, int, int, int]:
    """The list's total, the overview's total, the categories' sum, the export's rows: each must
    be what the database that answered holds."""
    status, listed = server.call("/api/v1/logs", key, page_size=1)
    assert status == 200, listed
    status, overview = server.call("/api/v1/metrics/overview", key, days=1)
    assert status == 200, overview
    status, categories = server.call("/api/v1/metrics/categories", key, days=1)
    assert status == 200, categories
    status, exported = server.call("/api/v1/logs/export", key, format="ndjson")
    assert status == 200
    rows = len([line for line in exported.splitlines() if line.strip()]) if isinstance(exported, str) else 1
    return (listed["pagination"]["total"], overview["total_tickets"], sum(c["count"] for c in categories["data"]),
            rows)


def _post(server: Server, key: str, *logs: dict[str, Any]) -> list[str]:
    status, body = server.call("/api/v1/logs/batch", key, {"logs": list(logs)})
    assert status == 201, body
    return body["ids"]


def test_dashboard_reads_come_from_the_replica_and_skip_it_when_it_lags(cluster: Cluster, service: Any) -> None:
    server, key = service
    _post(server, key, *[_log(i) for i in range(3)])
    cluster.wait_caught_up()
    assert _figures(server, key) == (3, 3, 3, 3)

    with cluster.replica() as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            new_ids = _post(server, key, _log(10, "refunds"), _log(11, "refunds"))
            # The replica's older answer, every figure from its one snapshot: the reads went there.
            assert _figures(server, key) == (3, 3, 3, 3)
            # Read-your-writes: the detail by id is on the primary.
            status, detail = server.call(f"/api/v1/logs/{new_ids[0]}", key)
            assert status == 200 and detail["category"] == "refunds"
            # Once it is more than REPLICA_MAX_LAG_SECONDS behind, the primary answers (no 5xx).
            time.sleep(MAX_LAG + 0.5)
            assert _figures(server, key) == (5, 5, 5, 5)
            status, ready = server.call("/health/ready", key)
            assert status == 200 and ready["replica"]["in_use"] is False
            assert any("replica not used" in w for w in ready["warnings"])
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    cluster.wait_caught_up()
    time.sleep(0.3)
    assert _figures(server, key) == (5, 5, 5, 5)  # its next check sees it caught up
    with cluster.replica() as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            _post(server, key, _log(20))
            assert _figures(server, key) == (5, 5, 5, 5)  # the replica again, paused before the last log
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    cluster.wait_caught_up()


def test_a_replica_that_goes_away_is_skipped_without_an_error(cluster: Cluster, service: Any) -> None:
    server, key = service
    _post(server, key, _log(30))
    cluster.wait_caught_up()
    total = _figures(server, key)[0]
    cluster.stop_replica()
    try:
        for _ in range(5):
            assert _figures(server, key)[0] == total
        status, ready = server.call("/health/ready", key)
        assert status == 200 and ready["status"] == "ready" and ready["replica"]["in_use"] is False
    finally:
        cluster.restart_replica()
    cluster.wait_caught_up()
    deadline = time.monotonic() + 10
    while server.call("/health/ready", key)[1]["replica"]["in_use"] is not True:
        assert time.monotonic() < deadline, "the replica was not used again"
        time.sleep(0.1)


def test_a_replica_failing_mid_request_is_retried_on_the_primary(cluster: Cluster, tmp_path: Path) -> None:
    """Its state is checked once for the whole test here, so the request itself meets the broken
    connection: it is answered from the primary in the same request."""
    env = _env(cluster, tmp_path, check_interval=600)
    key = _manage(env, "issue_api_key", "live", "--quiet").strip()
    server = Server(env, tmp_path / "server.log")
    try:
        expected = _figures(server, key)  # the check said "usable"; the pool holds a replica connection
        with cluster.replica() as replica:  # the replica drops our connections (say, a restart)
            replica.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", ["central_logger"])
        status, listed = server.call("/api/v1/logs", key, page_size=1)
        assert status == 200 and listed["pagination"]["total"] == expected[0]
        assert "replica failed during /api/v1/logs; answering from the primary" in (tmp_path / "server.log").read_text()
    finally:
        server.stop()
