"""`manage.py prune_logs` and the retention service behind it."""
from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Tenant, make_tenant
from logs.models import WorkflowLog
from logs.tests.admin_helpers import ingest_many
from logs.tests.factories import log_body

# Committed transactions: a run over every client may detach a partition, which DETACH ...
# CONCURRENTLY cannot do inside the test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def ago(days: float) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


def load(tenant: Tenant, ages: list[float]) -> None:
    ingest_many(tenant, [log_body(executed_at=ago(a), ticket_id=f"{tenant.client.slug}-{a}") for a in ages])


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_logs", *args, stdout=out)
    return out.getvalue()


def ages_left(tenant: Tenant) -> list[str]:
    return sorted(WorkflowLog.objects.for_client(tenant.client).values_list("ticket_id", flat=True))


@pytest.fixture
def tenants(alice: Tenant, bob: Tenant) -> dict[str, Tenant]:
    """alice keeps 30 days (5 logs, 3 older); bob has no period (4 logs, 2 very old); carol keeps 7 (3 logs, 1 older)."""
    carol = make_tenant("carol")
    alice.client.retention_days = 30
    alice.client.save()
    carol.client.retention_days = 7
    carol.client.save()
    load(alice, [1, 29, 31, 60, 400])
    load(bob, [1, 40, 500, 900])
    load(carol, [2, 10, 6.5])
    return {"alice": alice, "bob": bob, "carol": carol}


def test_dry_run_reports_counts_and_deletes_nothing(tenants: dict[str, Tenant]) -> None:
    out = prune("--dry-run")
    assert "alice: would remove 3 logs older than" in out and "(30 days)" in out
    assert "carol: would remove 1 logs older than" in out and "(7 days)" in out
    assert "bob" not in out  # no period: keeps forever
    assert "Dry run: 4 logs would be removed from 2 clients; nothing deleted." in out
    assert WorkflowLog.objects.count() == 12


def test_removes_only_old_logs_of_clients_with_a_period(tenants: dict[str, Tenant]) -> None:
    out = prune()
    assert "alice: removed 3 logs" in out and "carol: removed 1 logs" in out
    assert "Removed 4 logs from 2 clients." in out
    assert ages_left(tenants["alice"]) == ["alice-1", "alice-29"]
    assert ages_left(tenants["carol"]) == ["carol-2", "carol-6.5"]
    assert ages_left(tenants["bob"]) == ["bob-1", "bob-40", "bob-500", "bob-900"]
    again = prune()  # a second run (the next cron tick) finds nothing more
    assert "alice: removed 0 logs" in again and "carol: removed 0 logs" in again and "in 0 batches" in again


def test_only_the_named_client(tenants: dict[str, Tenant]) -> None:
    out = prune("--client", "carol")
    assert "carol: removed 1 logs" in out and "alice" not in out
    assert len(ages_left(tenants["alice"])) == 5


def test_named_client_without_a_period(tenants: dict[str, Tenant]) -> None:
    out = prune("--client", "bob")
    assert "bob: no retention period (keeps logs forever); nothing to do." in out
    assert len(ages_left(tenants["bob"])) == 4


@override_settings(DEFAULT_RETENTION_DAYS=100)
def test_default_period_applies_to_clients_without_their_own(tenants: dict[str, Tenant]) -> None:
    out = prune()
    assert "bob: removed 2 logs" in out and "(100 days)" in out
    assert ages_left(tenants["bob"]) == ["bob-1", "bob-40"]
    assert ages_left(tenants["alice"]) == ["alice-1", "alice-29"]  # its own 30 days win over the default


def test_deletes_in_bounded_batches(tenants: dict[str, Tenant]) -> None:
    load(tenants["alice"], [35, 36, 37, 38])  # alice now has 7 old logs
    with CaptureQueriesContext(connection) as ctx:
        out = prune("--client", "alice", "--batch-size", "2")
    deletes = [q["sql"] for q in ctx.captured_queries
               if q["sql"].startswith("DELETE") and "workflow_logs" in q["sql"]]
    assert len(deletes) == 4  # 2 + 2 + 2 + 1 (then one batch of the spans and records: none here)
    assert all("LIMIT 2" in sql and "executed_at <" in sql for sql in deletes)
    assert "alice: removed 7 logs" in out and "in 4 batches" in out
    assert ages_left(tenants["alice"]) == ["alice-1", "alice-29"]


def test_unknown_client_and_bad_batch_size_fail(tenants: dict[str, Tenant]) -> None:
    with pytest.raises(CommandError, match="No client with slug 'nobody'"):
        prune("--client", "nobody")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        prune("--batch-size", "0")


def test_retention_is_editable_in_admin_and_shown_with_the_default(admin_client: Any, tenants: dict[str, Tenant]
                                                                   ) -> None:
    with override_settings(DEFAULT_RETENTION_DAYS=90):
        html = admin_client.get("/admin/tenants/client/").content.decode()
        assert "90 d (default)" in html and "30 d" in html
        form = admin_client.get(f"/admin/tenants/client/{tenants['bob'].client.pk}/change/").content.decode()
        assert "the default, 90 days (DEFAULT_RETENTION_DAYS)" in form
    html = admin_client.get("/admin/tenants/client/").content.decode()
    assert "forever" in html


def test_opentelemetry_spans_and_records_older_than_the_period_go_too(alice: Tenant, bob: Tenant) -> None:
    """Runs, their spans and the log records attached to their traces are pruned by the same
    cutoff (the run's start is its root span's); another tenant's are untouched."""
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

    from logs.models import TraceLogRecord, TraceSpan
    from otel.tests.bodies import logs_request, trace_of, traces_request, value

    def send(tenant: Tenant, days: float, ticket: str) -> None:
        start = int((timezone.now() - dt.timedelta(days=days)).timestamp() * 1e9)
        spans = trace_of(3, ticket=ticket)
        shift = start - spans[0].start_time_unix_nano
        for span in spans:
            span.start_time_unix_nano += shift
            span.end_time_unix_nano += shift
        record = LogRecord(time_unix_nano=start, trace_id=spans[0].trace_id, body=value("step"))
        for path, body in (("/v1/traces", traces_request(spans)), ("/v1/logs", logs_request([record]))):
            assert tenant.api.post(path, data=body, content_type="application/x-protobuf").status_code == 200

    for tenant in (alice, bob):
        send(tenant, 40, "old")
        send(tenant, 5, "new")
    alice.client.retention_days = 30
    alice.client.save()
    out = prune("--client", "alice", "--dry-run")
    assert "would remove 1 logs" in out and "(and 4 OpenTelemetry spans and log records)" in out
    assert "removed 1 logs" in prune("--client", "alice", "--batch-size", "2")
    assert ages_left(alice) == ["new"]
    assert TraceSpan.objects.for_client(alice.client).count() == 3
    assert TraceLogRecord.objects.for_client(alice.client).count() == 1
    assert TraceSpan.objects.for_client(bob.client).count() == 6 and TraceLogRecord.objects.for_client(bob.client).count() == 2
