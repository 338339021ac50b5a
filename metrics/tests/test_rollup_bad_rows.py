"""One log must not poison the metrics for everyone (issue 19).

A log with `execution_time_seconds` = 1e306 used to be accepted; the rollup's bin overflowed, so
every flush failed (other tenants' logs stayed pending), the tenant's metrics answered 400, and
`flush_rollups` / `rebuild_rollups` failed too. Now ingestion refuses it (test_ingest.py), the
database refuses it (CHECK wl_execution_time_range), logs stored before that are repaired by
migration 0015, and the flusher isolates any row it cannot fold instead of failing its batch.
"""
from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from conftest import Tenant
from logs.models import WorkflowLog
from logs.tenant_sql.across_tenants import dangerously_count_pending
from logs.tests.factories import log_body
from metrics.flusher import flush_all
from metrics.tests.test_rollups import stored_vs_recount

pytestmark = pytest.mark.django_db
METRICS = ("overview", "categories", "timeseries", "errors", "versions")
PERIOD = "start_date=2025-01-01&end_date=2025-01-01"
MIGRATION_0015 = importlib.import_module("logs.migrations.0015_execution_time_bounds")


def _pending(client_id: int, seconds: float, hour: int = 12) -> None:
    """A pending rollup row as the insert trigger writes it (the pending table has no CHECK)."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO logs_rollup_pending (client_id, executed_at, execution_time_seconds, status, "
                       "category, workflow_version) VALUES (%s, %s, %s, 'SUCCESS', 'billing', 'v1')",
                       [client_id, f"2025-01-01T{hour:02d}:30:00Z", seconds])


def test_the_flusher_isolates_rows_it_cannot_fold(alice: Tenant, bob: Tenant) -> None:
    assert bob.api.post("/api/v1/logs", log_body(), format="json").status_code == 201
    # Two times whose sum overflows a double, an overflowing bin (before 0015), NaN, infinity.
    for seconds in (1.7e308, 1.7e308, 1e306, float("nan"), float("inf")):
        _pending(alice.client.pk, seconds)
    assert flush_all() == 6
    assert dangerously_count_pending() == 0
    stored, recount = stored_vs_recount(bob.client.pk)
    assert stored == recount  # the other tenant's log was folded, exactly
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(n), sum(time_n) FROM logs_rollup WHERE client_id = %s AND kind = 'S' "
                       "AND grain = 'd'", [alice.client.pk])
        logs, timed = cursor.fetchone()
    assert logs == 5  # every log counted; those that could not be summed, without their time
    assert timed < 5


def test_the_database_refuses_a_time_over_30_days(alice: Tenant) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowLog.objects.create(client=alice.client, environment="production", status="SUCCESS",
                                   executed_at="2025-01-01T00:00:00Z", execution_time_seconds=2_592_001)


def test_logs_stored_before_the_limit_are_repaired_and_the_metrics_answer(alice: Tenant, bob: Tenant) -> None:
    """A database from before migration 0015: absurd times were stored. The migration's repair
    moves them into extra and recounts their days; flush, rebuild and every metric then work."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE workflow_logs DROP CONSTRAINT wl_execution_time_range")  # as before 0015
    for index in range(3):
        assert alice.api.post("/api/v1/logs", log_body(ticket_id=f"ok-{index}"), format="json").status_code == 201
    assert bob.api.post("/api/v1/logs", log_body(), format="json").status_code == 201
    for index in range(2):  # what the old validation let through, inserted as ingestion did
        WorkflowLog.objects.create(client=alice.client, environment="production", status="SUCCESS",
                                   ticket_id=f"absurd-{index}", executed_at="2025-01-01T12:00:00Z",
                                   execution_time_seconds=1.7e308)
    with connection.cursor() as cursor:
        cursor.execute(MIGRATION_0015.FIX_ROWS)
    repaired = WorkflowLog.objects.filter(ticket_id__startswith="absurd-")
    assert [log.execution_time_seconds for log in repaired] == [None, None]
    assert [float(log.extra["_sanitized"]["execution_time_seconds"]) for log in repaired] == [1.7e308, 1.7e308]
    flush_all()
    call_command("flush_rollups", stdout=StringIO())
    call_command("rebuild_rollups", stdout=StringIO())
    for client in (alice.client, bob.client):
        stored, recount = stored_vs_recount(client.pk)
        assert stored == recount
    for name in METRICS:
        response = alice.api.get(f"/api/v1/metrics/{name}?{PERIOD}")
        assert response.status_code == 200, (name, response.content)
    overview = alice.api.get(f"/api/v1/metrics/overview?{PERIOD}").json()
    assert overview["total_tickets"] == 5 and overview["avg_execution_time"] == 5.2


def test_metrics_answer_while_absurd_rows_are_pending(alice: Tenant) -> None:
    """Reads add the pending rows on the fly with the same bin function."""
    assert alice.api.post("/api/v1/logs", log_body(), format="json").status_code == 201
    _pending(alice.client.pk, 1e306, hour=13)
    for name in METRICS:
        assert alice.api.get(f"/api/v1/metrics/{name}?{PERIOD}").status_code == 200, name


def test_histogram_bins_of_valid_times_are_unchanged(db: Any) -> None:
    """The capped bin function gives every time within the limit the bin it always had."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT t, logs_rollup_bin(t), least(1 + floor(ln(t / 0.001) / ln(1.04)), 32000)::smallint "
                       "FROM unnest(ARRAY[0.0015, 0.5, 1, 5.2, 60, 3600, 86400, 2592000]::float8[]) AS t")
        for t, new, old in cursor.fetchall():
            assert new == old, t
