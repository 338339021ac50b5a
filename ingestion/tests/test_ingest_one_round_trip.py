"""The single-log endpoint outside a transaction (as in production): one round trip that opens,
bounds, inserts and commits; duplicates, timeouts and a clean connection afterwards.

These tests run with real commits (`transaction=True`): the ordinary test transaction would
hide this path, which only applies when no transaction is open.
"""
from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from central_logger import dbguard
from conftest import make_tenant
from spool import drain
from logs.models import WorkflowLog
from logs.tests.factories import log_body, recent_log

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/logs"


def log_statements(queries: list[dict[str, Any]]) -> list[str]:
    """Statements over the log table (not the look-up of its partitions, which a process makes
    once every few seconds)."""
    return [q["sql"] for q in queries if "workflow_logs" in q["sql"] and "pg_inherits" not in q["sql"]]


def idle() -> bool:
    return connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_one_log_is_committed_by_one_statement() -> None:
    tenant = make_tenant("solo")
    with CaptureQueriesContext(connection) as queries:
        response = tenant.api.post(URL, recent_log(1, ticket_id="T-1"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duplicate"] is False and body["spooled"] is False
    (statement,) = log_statements(queries.captured_queries)
    assert statement.startswith("BEGIN; SET LOCAL statement_timeout = ") and statement.endswith("COMMIT")
    assert not any(q["sql"] in ("BEGIN", "COMMIT") or q["sql"].startswith("SAVEPOINT")
                   for q in queries.captured_queries)
    assert idle() and not connection.in_atomic_block
    # Committed, with the answer's id, for this tenant, and counted by the rollup's triggers.
    stored = WorkflowLog.objects.get(pk=body["id"])
    assert stored.client_id == tenant.client.pk and stored.ticket_id == "T-1"
    assert stored.payload == log_body()["payload"]
    detail = tenant.api.get(f"{URL}/{body['id']}")
    assert detail.status_code == 200 and detail.json()["ticket_id"] == "T-1"
    overview = tenant.api.get("/api/v1/metrics/overview", {"days": 7}).json()
    assert overview["total_tickets"] == 1


def test_a_retried_event_id_is_a_duplicate_with_the_first_id() -> None:
    tenant = make_tenant("retry")
    first = tenant.api.post(URL, log_body(), format="json", HTTP_IDEMPOTENCY_KEY="evt-1")
    again = tenant.api.post(URL, log_body(ticket_id="changed"), format="json", HTTP_IDEMPOTENCY_KEY="evt-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    # The answer summarises the stored log, not the retry's body.
    assert again.json()["ticket_id"] == log_body()["ticket_id"]
    assert WorkflowLog.objects.filter(client=tenant.client).count() == 1
    assert idle()
    # Another tenant's same event_id is its own log.
    other = make_tenant("other").api.post(URL, log_body(), format="json", HTTP_IDEMPOTENCY_KEY="evt-1")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@override_settings(INGEST_DB_TIMEOUT_MS=300)
def test_a_statement_timeout_rolls_back_spools_and_leaves_the_connection_clean() -> None:
    tenant = make_tenant("slow")
    assert tenant.api.post(URL, {"environment": "production", "test": True}, format="json").status_code == 200
    with psycopg.connect(**connection.standalone_params()) as locker:
        locker.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = tenant.api.post(URL, log_body(ticket_id="late"), format="json")
        elapsed = time.monotonic() - started
        locker.rollback()
    assert response.status_code == 202 and response.json()["spooled"] is True
    assert elapsed < 1.0  # the server's 300 ms timeout, not the test's 10 s default
    # The aborted transaction was rolled back: this connection serves the next request.
    assert connection.connection is None or connection.connection.closed or idle()
    dbguard.reset()
    after = tenant.api.post(URL, log_body(ticket_id="next"), format="json")
    assert after.status_code == 201 and after.json()["spooled"] is False
    assert drain.spool_drain().inserted == 1
    assert sorted(WorkflowLog.objects.filter(client=tenant.client).values_list("ticket_id", flat=True)) == [
        "late", "next"]
    assert WorkflowLog.objects.get(ticket_id="late").id.hex == response.json()["id"].replace("-", "")
