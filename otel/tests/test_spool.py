"""OTLP exports while PostgreSQL is down or slow: answered 200 (OTLP's success) from the spool,
then drained into the same spans and runs as online, exactly once."""
from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection

from conftest import Tenant, database_url
from logs.models import TraceLogRecord, TraceSpan, WorkflowLog
from otel.services import SPOOLED_HEADER
from otel.tests.bodies import T0, logs_request, trace_of, traces_request, value
from otel.tests.test_sdk_live import RUN_FIELDS
from spool import store
from spool.drain import spool_drain
from spool.tests.test_spool import database_down, warm_up

PROTOBUF = "application/x-protobuf"


def post(tenant: Tenant, body: bytes, path: str = "/v1/traces") -> Any:
    return tenant.api.post(path, data=body, content_type=PROTOBUF)


def run_of(tenant: Tenant) -> dict[str, Any]:
    return WorkflowLog.objects.for_client(tenant.client).values(*RUN_FIELDS).get()


@pytest.mark.django_db
def test_exports_spooled_while_the_database_is_down_drain_into_the_same_run(alice: Tenant, bob: Tenant) -> None:
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

    spans = trace_of(5, ticket="T-77")
    half = [spans[0], spans[3]], [spans[1], spans[2], spans[4]]
    record = LogRecord(time_unix_nano=T0, trace_id=spans[0].trace_id, span_id=spans[1].span_id, body=value("step"))
    workflow = LogRecord(time_unix_nano=T0, body=value({"status": "SUCCESS", "ticket_id": "W-5"}))
    warm_up(alice)
    with database_down():
        for part in half:
            response = post(alice, traces_request(part))
            assert response.status_code == 200 and response[SPOOLED_HEADER] == "true"
        response = post(alice, logs_request([record, workflow]), "/v1/logs")
        assert response.status_code == 200 and response[SPOOLED_HEADER] == "true"
    assert not TraceSpan.objects.exists() and not WorkflowLog.objects.exists()
    assert store.spool_stats().rows == 4  # two span exports, the attached record, the workflow log

    report = spool_drain()
    assert (report.inserted, report.dead, report.remaining) == (4, 0, 0)
    assert post(bob, traces_request(spans)).status_code == 200  # the same trace, online, for comparison
    assert WorkflowLog.objects.for_client(alice.client).values(*RUN_FIELDS).get(ticket_id="T-77") == \
        run_of(bob)
    assert TraceSpan.objects.for_client(alice.client).count() == 5
    assert TraceLogRecord.objects.for_client(alice.client).count() == 1
    assert WorkflowLog.objects.for_client(alice.client).filter(ticket_id="W-5").exists()


@pytest.mark.django_db
def test_a_record_drained_twice_changes_nothing(alice: Tenant) -> None:
    """A crash between PostgreSQL's commit and the spool's delete: the drain stores it again."""
    warm_up(alice)
    with database_down():
        assert post(alice, traces_request(trace_of(4))).status_code == 200
    (row,) = store.connection().execute("SELECT * FROM spooled_logs").fetchall()
    spool_drain()
    before = run_of(alice), list(TraceSpan.objects.values_list("span_id", "received_at").order_by("span_id"))
    conn = store.connection()
    conn.execute("INSERT INTO spooled_logs VALUES (" + ", ".join("?" * len(row)) + ")", row)
    report = spool_drain()
    assert (report.inserted, report.skipped) == (0, 1)
    assert (run_of(alice), list(TraceSpan.objects.values_list("span_id", "received_at").order_by("span_id"))) == before


@pytest.mark.django_db(transaction=True)
def test_an_export_waiting_on_a_locked_trace_past_the_budget_is_spooled(alice: Tenant, settings: Any) -> None:
    """Another transaction holds the trace (a concurrent export of the same trace, stuck): the
    export waits at most INGEST_DB_TIMEOUT_MS, then goes to the spool and still answers 200."""
    settings.INGEST_DB_TIMEOUT_MS = 300
    spans = trace_of(3)
    warm_up(alice)
    with psycopg.connect(database_url(connection.settings_dict)) as other:
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s::text || ':' || %s, 0))",
                      [alice.client.pk, spans[0].trace_id.hex()])
        started = time.monotonic()
        response = post(alice, traces_request(spans))
        elapsed = time.monotonic() - started
        other.execute("ROLLBACK")
    assert response.status_code == 200 and response[SPOOLED_HEADER] == "true"
    assert 0.25 < elapsed < 1.5
    assert not TraceSpan.objects.exists()
    from central_logger import dbguard

    dbguard.reset()
    assert spool_drain().inserted == 1
    assert run_of(alice)["metrics"]["llm_calls"] == 2


def test_an_old_spool_file_gains_the_kind_column(tmp_path: Any, settings: Any) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old_schema = store.SCHEMA.replace(",\n    kind TEXT NOT NULL DEFAULT 'log'             -- what `fields` holds, and who "
                                      "drains it\n", "\n").replace(", kind TEXT NOT NULL DEFAULT 'log'\n", "\n")
    assert "kind" not in old_schema
    with sqlite3.connect(path) as conn:
        conn.executescript(old_schema)
        conn.execute("INSERT INTO spooled_logs (id, client_id, accepted_at, fields, size) VALUES ('a', 1, 'now', x'7b7d', 2)")
    settings.SPOOL_PATH = str(path)
    store.close_connections()
    assert store.connection().execute("SELECT kind FROM spooled_logs").fetchall() == [("log",)]
    store.close_connections()


@pytest.mark.django_db
def test_a_record_of_a_kind_nobody_drains_becomes_a_dead_letter(alice: Tenant) -> None:
    store.spool_put(client_id=alice.client.pk, api_key_id=None,
                    items=[store.SpoolItem(id="x", event_id=None, fields={"a": 1}, kind="martian")])
    report = spool_drain()
    assert (report.dead, report.remaining) == (1, 0)
    assert store.connection().execute("SELECT kind, reason FROM dead_letters").fetchall() == [
        ("martian", "no drain registered for this kind of record")]
