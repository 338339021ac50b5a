"""Offline key verification is for ingestion only, and never outlives a revocation or deactivation.

Reproduced as an operator would meet it (issue 19): a real gunicorn worker, real HTTP, and a real
lock on the log table held by another PostgreSQL session, so that ingestion passes its 1 s budget,
spools, and opens the worker's circuit breaker; meanwhile a key revoked (or a client deactivated)
just before is presented for reads and writes.
"""
from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from central_logger import dbguard
from central_logger.tests.live import LiveServer
from conftest import Tenant, make_tenant
from logs.tests.factories import log_body
from spool.tests.test_spool import database_down, warm_up
from tenants import keysnapshot
from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_revoke, client_set_active

READS = ("/api/v1/logs", "/api/v1/logs/export?format=ndjson", "/api/v1/metrics/overview")


def call(server: LiveServer, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw


@pytest.fixture
def server(transactional_db: Any) -> Iterator[LiveServer]:
    # The worker shares this test's key snapshot file (as every process of a host does), keeps
    # what it spools (no background drainer) and has the production ingestion budget of 1 s.
    with LiveServer(threads=None, env={
            "KEY_SNAPSHOT_PATH": str(settings.KEY_SNAPSHOT_PATH), "SPOOL_PATH": str(settings.SPOOL_PATH),
            "INGEST_DB_TIMEOUT_MS": "1000", "SPOOL_DRAIN_INTERVAL": "0", "ROLLUP_FLUSH_INTERVAL": "0",
            "KEY_SNAPSHOT_SYNC_INTERVAL": "0", "GUNICORN_ACCESSLOG": ""}) as live:
        yield live


def _open_circuit_with_a_locked_table(server: LiveServer, other_key: str) -> psycopg.Connection[Any]:
    """Another session locks the log table; a valid key's POST then spools after the 1 s budget,
    which opens the worker's circuit breaker for DB_CIRCUIT_OPEN_SECONDS (2 s)."""
    locker = psycopg.connect(**connection.standalone_params())
    locker.execute("LOCK TABLE workflow_logs IN EXCLUSIVE MODE")
    status, body = call(server, other_key, "POST", "/api/v1/logs", log_body(ticket_id="spooled"))
    assert status == 202 and body["spooled"] is True
    return locker


@pytest.mark.django_db(transaction=True)
def test_revoked_key_neither_reads_nor_ingests_while_ingestion_spools(server: LiveServer) -> None:
    tenant = make_tenant("outage-revoked")
    other = api_key_issue(client=tenant.client, name="still valid").plaintext
    for key in (tenant.key, other):  # both used once: the worker remembers them
        assert call(server, key, "POST", "/api/v1/logs", log_body())[0] == 201
    api_key_revoke(prefix=tenant.key.split("_")[1])
    locker = _open_circuit_with_a_locked_table(server, other)
    try:
        started = time.monotonic()
        answers = {path: call(server, tenant.key, "GET", path)[0] for path in READS}
        answers["POST"] = call(server, tenant.key, "POST", "/api/v1/logs", log_body())[0]
        valid_read = call(server, other, "GET", "/api/v1/logs")
        assert time.monotonic() - started < settings.DB_CIRCUIT_OPEN_SECONDS, "the circuit closed too early"
    finally:
        locker.close()
    assert answers == {**{path: 401 for path in READS}, "POST": 401}
    # A valid key still reads (reads authenticate online; the lock lets SELECTs through).
    assert valid_read[0] == 200 and valid_read[1]["pagination"]["total"] == 2


@pytest.mark.django_db(transaction=True)
def test_deactivated_clients_key_neither_reads_nor_ingests_while_ingestion_spools(server: LiveServer) -> None:
    tenant = make_tenant("outage-deactivated")
    neighbour = make_tenant("outage-neighbour")
    for key in (tenant.key, neighbour.key):
        assert call(server, key, "POST", "/api/v1/logs", log_body())[0] == 201
    client_set_active(client=tenant.client, active=False)
    locker = _open_circuit_with_a_locked_table(server, neighbour.key)
    try:
        answers = {path: call(server, tenant.key, "GET", path)[0] for path in READS}
        answers["POST"] = call(server, tenant.key, "POST", "/api/v1/logs", log_body())[0]
    finally:
        locker.close()
    assert answers == {**{path: 401 for path in READS}, "POST": 401}


# --- in process: the rules one by one ----------------------------------------------------------------


@pytest.mark.django_db
def test_reads_never_authenticate_offline(alice: Tenant) -> None:
    warm_up(alice)
    dbguard.mark_failure()
    with database_down():
        for path in READS:
            response = alice.api.get(path)
            assert response.status_code == 503, path
            assert response.json()["error"]["code"] == "database_unavailable"
        # Ingestion does: the same key spools.
        assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 202


@pytest.mark.django_db
def test_revocation_reaches_the_snapshot_when_it_commits(alice: Tenant,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    warm_up(alice)
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(prefix=alice.key.split("_")[1])
    with database_down():
        response = alice.api.post("/api/v1/logs", log_body(), format="json")
    assert response.status_code == 401  # known to be revoked: no database needed to say so


@pytest.mark.django_db
def test_deactivation_and_reactivation_reach_the_snapshot(alice: Tenant,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    warm_up(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client_set_active(client=alice.client, active=False)
    alice.client.refresh_from_db()
    assert alice.client.deactivated_at is not None
    with database_down():
        assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 401
    with django_capture_on_commit_callbacks(execute=True):
        client_set_active(client=alice.client, active=True)
    alice.client.refresh_from_db()
    assert alice.client.deactivated_at is None
    with database_down():
        assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 202


@pytest.mark.django_db
def test_snapshot_sync_hears_of_a_revocation_made_on_another_host(alice: Tenant, bob: Tenant) -> None:
    warm_up(alice)
    warm_up(bob)
    # Another host revoked alice's key and deactivated bob's client: nothing here was told.
    ApiKey.objects.filter(prefix=alice.key.split("_")[1]).update(revoked_at=timezone.now())
    type(bob.client).objects.filter(pk=bob.client.pk).update(is_active=False, deactivated_at=timezone.now())
    assert keysnapshot.sync() == 2
    with database_down():
        assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 401
        assert bob.api.post("/api/v1/logs", log_body(), format="json").status_code == 401
    assert keysnapshot.sync() == 0  # nothing new


@pytest.mark.django_db
def test_a_key_remembered_just_before_its_revocation_does_not_come_back(alice: Tenant,
                                                                        django_capture_on_commit_callbacks: Any
                                                                        ) -> None:
    warm_up(alice)
    row = ApiKey.objects.select_related("client").get(prefix=alice.key.split("_")[1])
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(prefix=row.prefix)
    keysnapshot.forget_all()
    keysnapshot.remember(row)  # a request that read the row before the revocation committed
    assert keysnapshot.lookup(row.prefix).refused  # type: ignore[union-attr]
