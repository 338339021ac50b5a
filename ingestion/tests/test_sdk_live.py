"""The Python SDK (sdk/python) against the real collector: gunicorn in a subprocess, on the
test database, stopped and restarted while logs keep coming.

PostgreSQL only: the server subprocess must see the rows this test process commits.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from central_logger.tests.live import LiveServer
from logs.models import WorkflowLog
from tenants.services import api_key_issue, client_create

sdk = pytest.importorskip("central_logger_sdk", reason="pip install ./sdk/python")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup: Any) -> Iterator[LiveServer]:
    srv = LiveServer(threads=None, env={"GUNICORN_ACCESSLOG": ""})
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture
def tenant_key(transactional_db: Any) -> tuple[Any, str]:
    client = client_create(slug="sdk-live")
    return client, api_key_issue(client=client, scopes=["ingest"]).plaintext


def _logger(server: LiveServer, key: str, **options: Any) -> Any:
    opts = {"environment": "test", "flush_interval": 0.05, "backoff_base": 0.05, "backoff_max": 0.5,
            "flush_at_exit": False, "timeout": 2.0, "spool_dir": None}  # memory only: the outage is short
    opts.update(options)
    return sdk.CentralLogger(server.url, key, **opts)


def _log(i: int) -> dict[str, Any]:
    return sdk.build_log(sdk.Status.SUCCESS, ticket_id=f"T-{i}", execution_time_seconds=0.5,
                         category="sdk-live", metrics={"i": i})


def test_sdk_delivers_every_log_exactly_once(server: LiveServer, tenant_key: tuple[Any, str]) -> None:
    client, key = tenant_key
    logger = _logger(server, key, batch_size=25)
    for i in range(120):
        assert logger.ship_log(_log(i))
    assert logger.flush(30), logger.stats()
    logger.close(5)
    rows = WorkflowLog.objects.filter(client=client)
    assert rows.count() == 120
    assert rows.values("event_id").distinct().count() == 120
    assert sorted(int(t[2:]) for t in rows.values_list("ticket_id", flat=True)) == list(range(120))


def test_sdk_survives_a_collector_outage_without_loss_or_duplicates(server: LiveServer,
                                                                    tenant_key: tuple[Any, str]) -> None:
    client, key = tenant_key
    logger = _logger(server, key, batch_size=10)
    for i in range(30):
        logger.ship_log(_log(i))
    assert logger.flush(30)
    server.kill()  # a crash of the collector
    started = time.monotonic()
    for i in range(30, 90):  # the workflow keeps running while the collector is down
        t0 = time.perf_counter()
        logger.ship_log(_log(i))
        assert time.perf_counter() - t0 < 0.1  # never waits for the network (generous bound: shared CI cores)
        time.sleep(0.05)
    assert time.monotonic() - started >= 3
    server.start()  # same port, as after a deploy or a crash-restart
    assert logger.flush(60), logger.stats()
    stats = logger.stats()
    logger.close(5)
    rows = WorkflowLog.objects.filter(client=client)
    assert rows.count() == 90, stats
    assert rows.values("event_id").distinct().count() == 90
    assert stats["retried"] > 0 and stats["dropped_total"] == 0, stats


def test_sdk_counts_invalid_logs_as_rejected_and_delivers_the_rest(server: LiveServer,
                                                                   tenant_key: tuple[Any, str]) -> None:
    client, key = tenant_key
    logger = _logger(server, key, flush_interval=30)
    logs = [_log(i) for i in range(5)]
    logs[1]["status"] = "NOT_A_STATUS"
    logs[3]["executed_at"] = "not a date"
    for log in logs:
        logger.ship_log(log)
    assert logger.flush(30) is False  # settled, but two of the five were not delivered
    stats = logger.stats()
    logger.close(5)
    assert stats["sent"] == 3 and stats["dropped"].get("rejected") == 2, stats
    assert sorted(WorkflowLog.objects.filter(client=client).values_list("ticket_id", flat=True)) == ["T-0", "T-2", "T-4"]
