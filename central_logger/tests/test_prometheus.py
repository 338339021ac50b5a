"""/metrics: Prometheus metrics of a real gunicorn with two workers (prometheus-client's multiprocess
mode), protected by an allow-list or a token; the Grafana dashboard in deploy/ reads only metrics
that exist."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from central_logger.tests.live import ROOT, LiveServer
from conftest import database_url
from logs.tests.factories import log_body
from tenants.services import api_key_issue, client_create

pytestmark = pytest.mark.django_db(transaction=True)
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"


def scrape(server: LiveServer, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = server.request(path="/metrics", headers=headers)
    assert answer.status == 200, answer.body[:500]
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.body.decode()) for sample in family.samples}


def scrape_until(server: LiveServer, *names: str, timeout: float = 15) -> dict[Any, float]:
    """A scrape once `names` are there (a background loop's first round takes a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if set(names) <= {name for name, _ in samples} or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum over the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def post(server: LiveServer, key: str, path: str, body: Any, **headers: str) -> int:
    return server.request("POST", path, body=json.dumps(body).encode(),
                          headers={"X-API-Key": key, "Content-Type": "application/json", **headers}).status


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    metrics_dir = tmp_path / "prometheus"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "AUTH_FAILURE_RATE": "3/min", "API_KEY_CACHE_SECONDS": "30",
           "INGEST_DB_TIMEOUT_MS": "300", "SPOOL_PATH": str(tmp_path / "spool.sqlite3")}
    with LiveServer(tmp_path / "gunicorn.log", workers=2, env=env) as server:
        yield server, metrics_dir


def test_two_workers_counts_add_up_and_the_spool_is_watched(two_workers: tuple[LiveServer, Path]) -> None:
    server, metrics_dir = two_workers
    key = api_key_issue(client=client_create(slug="acme")).plaintext
    for i in range(30):  # a connection each: the kernel spreads them over both workers
        assert post(server, key, "/api/v1/logs", log_body(ticket_id=f"T-{i}", event_id=f"e-{i}")) == 201
    assert post(server, key, "/api/v1/logs", log_body(event_id="e-0")) == 200  # a duplicate
    assert post(server, key, "/api/v1/logs/batch", {"logs": [log_body(), {"status": "nope"}]}) == 207
    for _ in range(12):  # unknown keys: 401, then 429 from the per-address budget (per worker)
        server.request(path="/api/v1/logs", headers={"X-API-Key": "clk_aaaaaaaaaa_" + "b" * 32})
    workers = {name.split("_")[-1] for name in (p.name for p in metrics_dir.glob("counter_*.db"))}
    assert len(workers) >= 2, "both workers served requests"

    samples = scrape_until(server, "central_logger_background_last_success_timestamp_seconds")
    assert value(samples, "central_logger_http_requests_total", route="/api/v1/logs", method="POST", status="201") == 30
    assert value(samples, "central_logger_logs_ingested_total", outcome="stored") == 31
    assert value(samples, "central_logger_logs_ingested_total", outcome="duplicate") == 1
    assert value(samples, "central_logger_logs_ingested_total", outcome="rejected") == 1
    assert value(samples, "central_logger_rate_limited_total", budget="auth_failures") >= 1
    assert value(samples, "central_logger_api_key_cache_total", result="hit") > 0
    assert value(samples, "central_logger_http_request_duration_seconds_count", route="/api/v1/logs") >= 31
    # Live gauges are summed over the live workers: each has a pool of DB_POOL_MAX_SIZE (8).
    assert value(samples, "central_logger_db_pool_connections", state="max") == 8 * len(workers)
    assert value(samples, "central_logger_db_circuit_open") == 0
    assert value(samples, "central_logger_database_up") == 1
    assert value(samples, "central_logger_spool_writable") == 1
    assert value(samples, "central_logger_spool_logs") == 0
    assert "central_logger_rollup_pending_logs" in {name for name, _ in samples}
    assert time.time() - value(samples, "central_logger_background_last_success_timestamp_seconds",
                               loop="rollup-flusher") < 30
    # Every scrape, whichever worker answers it, sees the same totals.
    for _ in range(4):
        again = scrape(server)
        assert value(again, "central_logger_logs_ingested_total", outcome="stored") == 31

    # PostgreSQL holds the log table locked: ingestion spools, the spool's depth and age show it.
    with psycopg.connect(database_url(connection.settings_dict)) as blocker:
        blocker.execute("LOCK TABLE workflow_logs IN EXCLUSIVE MODE")
        assert post(server, key, "/api/v1/logs", log_body(ticket_id="while-locked")) == 202
        time.sleep(1.1)
        during = scrape(server)
    assert value(during, "central_logger_logs_ingested_total", outcome="spooled") == 1
    assert value(during, "central_logger_spool_logs") == 1
    assert value(during, "central_logger_spool_oldest_age_seconds") >= 1
    deadline = time.monotonic() + 15
    while value(after := scrape(server), "central_logger_spool_drained_total", outcome="stored") < 1:
        assert time.monotonic() < deadline, "the drainer did not move the spooled log"
        time.sleep(0.3)
    assert value(after, "central_logger_spool_logs") == 0


def test_metrics_need_an_allowed_address_or_the_token(tmp_path: Path) -> None:
    env = {"METRICS_ALLOWED_IPS": "", "METRICS_TOKEN": "s3cret-token-for-prometheus"}
    with LiveServer(tmp_path / "gunicorn.log", env=env) as server:
        refused = server.request(path="/metrics")
        wrong = server.request(path="/metrics", headers={"Authorization": "Bearer nope"})
        assert scrape(server, Authorization="Bearer s3cret-token-for-prometheus")
    for answer in (refused, wrong):
        assert answer.status == 403
        assert "METRICS_TOKEN" in answer.json()["error"]["message"]


def test_only_this_host_by_default(anon: APIClient) -> None:
    assert anon.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert anon.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert anon.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def _expressions(panels: list[dict[str, Any]]) -> Iterator[str]:
    for panel in panels:
        yield from (target["expr"] for target in panel.get("targets", []))
        yield from _expressions(panel.get("panels", []))


def test_the_grafana_dashboard_reads_only_metrics_that_exist(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = list(_expressions(dashboard["panels"]))
    assert len(expressions) >= 10
    used = {name for expr in expressions for name in re.findall(r"\b(central_logger_[a-z_]+)", expr)}
    with LiveServer(tmp_path / "gunicorn.log") as server:
        key = api_key_issue(client=client_create(slug="acme")).plaintext
        post(server, key, "/api/v1/logs", log_body())
        exposed = {name for name, _ in scrape_until(server, *used)}
    # Histograms are queried through their _bucket/_count/_sum series; counters through _total.
    missing = sorted(name for name in used if name not in exposed)
    assert not missing, missing
    titles = " ".join(panel.get("title", "") for panel in dashboard["panels"]).lower()
    for topic in ("ingest", "spool", "rollup", "pool", "circuit", "rate limit", "key cache", "5xx"):
        assert topic in titles, topic
