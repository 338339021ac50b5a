"""Time partitions of the log table: the layout, a partition for any date (on demand, bounded),
the maintenance ahead (one runner, failures retried, readiness), reshaping a catch-all, settling
an interrupted detach, and exactly-once event ids across partitions under concurrent retries."""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client as HttpClient

from central_logger.background import ProcessLoop
from conftest import Tenant, make_tenant
from logs import partitions
from logs.ids import executed_range
from logs.models import WorkflowLog
from logs.tenant_sql import citus
from logs.tenant_sql import partitions as partition_sql
from logs.tests.factories import log_body
from metrics.flusher import flush_all

UTC = dt.timezone.utc
URL = "/api/v1/logs"


def names() -> list[str]:
    return [p.name for p in partitions.partitions()]


def post(tenant: Tenant, executed_at: str, **fields: Any) -> dict[str, Any]:
    response = tenant.api.post(URL, log_body(executed_at=executed_at, **fields), format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def other_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(**connection.standalone_params(), autocommit=True)


@pytest.mark.django_db
def test_the_table_is_partitioned_by_executed_at_with_partitions_ahead_and_no_default() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_partkeydef('workflow_logs'::regclass)")
        assert cursor.fetchone()[0] == "RANGE (executed_at)"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = 'workflow_logs'::regclass AND contype = 'p'")
        # On a Citus cluster the tenant leads it (a distributed table's unique keys hold the
        # distribution column: logs/tenant_sql/citus.py).
        key = "client_id, id, executed_at" if citus.is_active() else "id, executed_at"
        assert cursor.fetchone()[0] == f"PRIMARY KEY ({key})"
        cursor.execute("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'workflow_logs'::regclass "
                       "AND partdefid <> 0")
        assert cursor.fetchone()[0] == 0  # no DEFAULT partition: DETACH ... CONCURRENTLY stays possible
    assert partitions.missing_ahead() == []
    start, end = partitions.window(dt.datetime.now(UTC))
    assert any(p.lo == start for p in partitions.partitions())
    assert any(p.hi == end for p in partitions.partitions())


@pytest.mark.django_db
def test_a_log_of_any_date_is_stored_in_a_partition_made_for_it(alice: Tenant) -> None:
    now = dt.datetime.now(UTC)
    dates = {
        "ancient": "1899-07-14T08:00:00Z",  # before 1970: its id carries the arrival time instead
        "last year": (now - dt.timedelta(days=330)).isoformat(),
        "next year": (now + dt.timedelta(days=200)).isoformat(),
        "far future": "2090-01-01T00:00:00Z",
        "the end": "9999-12-31T23:59:59.999999Z",
    }
    ids = {label: post(alice, when, ticket_id=label)["id"] for label, when in dates.items()}
    for label, log_id in ids.items():
        detail = alice.api.get(f"{URL}/{log_id}")
        assert detail.status_code == 200 and detail.json()["ticket_id"] == label
    listed = alice.api.get(URL, {"page_size": 10}).json()
    assert listed["pagination"]["total"] == 5
    made = [p for p in partitions.partitions() if p.covers(dt.datetime(2090, 1, 1, tzinfo=UTC))]
    assert len(made) == 1 and made[0].hi is None  # one catch-all beyond the zone, not one per month
    regular = next(p for p in partitions.partitions() if p.covers(now - dt.timedelta(days=330)))
    assert regular.lo == partitions.floor(now - dt.timedelta(days=330)) and regular.hi == partitions.step(regular.lo)


@pytest.mark.django_db
def test_odd_dates_cannot_multiply_partitions(alice: Tenant) -> None:
    before = len(names())
    bodies = [log_body(executed_at=f"{year}-06-01T00:00:00Z") for year in range(2100, 2160)]
    bodies += [log_body(executed_at=f"{year}-06-01T00:00:00Z") for year in range(1900, 1960)]
    response = alice.api.post(f"{URL}/batch", {"logs": bodies[:100]}, format="json")
    assert response.status_code == 201
    response = alice.api.post(f"{URL}/batch", {"logs": bodies[100:]}, format="json")
    assert response.status_code == 201
    assert len(names()) <= before + 2  # one catch-all before the zone, one after it (or ones there already)
    dates = [dt.datetime(year, 6, 1, tzinfo=UTC) for year in (*range(2100, 2160), *range(1900, 1960))]
    covering = {p for p in partitions.partitions() if any(p.covers(when) for when in dates)}
    assert len(covering) == 2 and all(p.lo is None or p.hi is None for p in covering), covering
    assert WorkflowLog.objects.filter(client=alice.client).count() == 120


@pytest.mark.django_db
def test_detail_by_id_reads_one_partition(alice: Tenant) -> None:
    now = dt.datetime.now(UTC)
    for months in range(6):  # logs spread over several partitions
        post(alice, (now - dt.timedelta(days=31 * months)).isoformat())
    log_id = post(alice, now.isoformat())["id"]
    start, end = executed_range(uuid.UUID(log_id))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT id FROM workflow_logs WHERE client_id = %s AND id = %s "
                       "AND executed_at >= %s AND executed_at < %s", [alice.client.pk, log_id, start, end])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # "Index Only Scan" once autovacuum has set the partition's visibility map (seen in longer runs)
    scanned = [line for line in plan.splitlines() if any(kind in line for kind in ("Index Scan", "Index Only Scan",
                                                                                    "Seq Scan"))]
    assert len(scanned) == 1 and "workflow_logs_" in scanned[0], plan


@pytest.mark.django_db(transaction=True)
def test_maintenance_creates_partitions_ahead_once_across_processes(settings: Any) -> None:
    later = dt.datetime.now(UTC) + dt.timedelta(days=100)
    assert partitions.missing_ahead(now=later)  # the window of 100 days from now is not there yet
    with other_connection() as other:  # another process is the runner
        other.execute("SELECT pg_advisory_lock(727002, 1)")
        assert partitions.maintain(now=later).busy is True
        assert partitions.missing_ahead(now=later)
        other.execute("SELECT pg_advisory_unlock(727002, 1)")  # that runner is done
    report = partitions.maintain(now=later)
    assert not report.busy and report.created
    assert partitions.missing_ahead(now=later) == []
    assert partitions.maintain(now=later).created == []  # idempotent
    out = StringIO()
    call_command("maintain_partitions", "--list", stdout=out)
    assert "partitions ahead all present" in out.getvalue() and "MiB" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_failing_maintenance_is_retried_and_never_blocks_ingestion(settings: Any) -> None:
    tenant = make_tenant("busy")
    later = dt.datetime.now(UTC) + dt.timedelta(days=100)
    while not partitions.missing_ahead(now=later):  # partitions of other tests outlive them
        later += dt.timedelta(days=31)
    settings.LOG_PARTITION_LOCK_TIMEOUT_MS = 200
    failures: list[BaseException] = []

    def maintenance_round() -> None:  # the background thread's round, failures recorded
        try:
            partitions.maintain(now=later)
        except Exception as exc:
            failures.append(exc)
            raise  # the loop logs it and tries again next round

    with other_connection() as other:
        # A long operation holding the table (say, CREATE INDEX CONCURRENTLY by an operator).
        other.execute("BEGIN")
        other.execute("LOCK TABLE workflow_logs IN SHARE UPDATE EXCLUSIVE MODE")
        loop = ProcessLoop("test-maintenance", lambda: 0.05, maintenance_round)
        loop.ensure()
        try:
            stored = tenant.api.post(URL, log_body(executed_at=dt.datetime.now(UTC).isoformat()), format="json")
            assert stored.status_code == 201 and stored.json()["spooled"] is False  # ingestion goes on
            assert HttpClient().get("/health/ready").status_code == 200
            deadline = time.monotonic() + 10
            while len(failures) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            loop.stop()
            other.execute("ROLLBACK")
    assert len(failures) >= 2 and all("lock timeout" in str(exc) for exc in failures)  # retried each round
    assert partitions.missing_ahead(now=later)
    assert partitions.maintain(now=later).created  # done once the lock is free
    assert partitions.missing_ahead(now=later) == []


@pytest.mark.django_db(transaction=True)
def test_readiness_warns_when_partitions_ahead_are_missing() -> None:
    start, end = partitions.window(dt.datetime.now(UTC))
    last = next(p for p in partitions.partitions() if p.hi == end)
    partitions.detach_and_settle(last, {})
    body = HttpClient().get("/health/ready").json()
    assert body["status"] == "ready" and body["partitions"]["missing"] == [f"{last.lo:%Y-%m-%d}"]
    assert body["warnings"] == [f"partitions ahead missing: {last.lo:%Y-%m-%d}"]
    partitions.maintain()
    assert HttpClient().get("/health/ready").json()["warnings"] == []


@pytest.mark.django_db(transaction=True)
def test_the_window_reaching_a_catch_all_moves_its_logs_into_regular_partitions() -> None:
    tenant = make_tenant("clock")
    now = dt.datetime.now(UTC)
    _, end = partitions.window(now)
    zone_end = partitions.step(end, partitions.ZONE_BEYOND)
    odd = [zone_end + dt.timedelta(days=3), zone_end + dt.timedelta(days=40), dt.datetime(2090, 5, 1, tzinfo=UTC)]
    ids = [post(tenant, when.isoformat(), event_id=f"e{i}")["id"] for i, when in enumerate(odd)]
    flush_all()
    catch_all = next(p for p in partitions.partitions() if p.covers(odd[0]))
    assert catch_all.hi is None
    period = {"start_date": odd[0].date().isoformat(), "end_date": odd[1].date().isoformat()}
    metrics_before = tenant.api.get("/api/v1/metrics/overview", period).json()
    # A year later the ahead window reaches the catch-all.
    report = partitions.maintain(now=zone_end + dt.timedelta(days=1))
    assert report.reshaped == [catch_all.name]
    for when, log_id in zip(odd, ids):
        part = next(p for p in partitions.partitions() if p.covers(when))
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{part.name}" WHERE id = %s', [log_id])
            assert cursor.fetchone()[0] == 1, part
        assert tenant.api.get(f"{URL}/{log_id}").status_code == 200
    assert next(p for p in partitions.partitions() if p.covers(odd[0])).hi is not None  # a regular one now
    metrics_after = tenant.api.get("/api/v1/metrics/overview", period).json()
    assert metrics_after == metrics_before and metrics_after["total_tickets"] == 2  # counted once, still
    again = tenant.api.post(URL, log_body(executed_at=odd[0].isoformat(), event_id="e0"), format="json")
    assert again.status_code == 200 and again.json()["id"] == ids[0]  # its event id moved with it


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_detach_is_settled_by_the_next_round() -> None:
    tenant = make_tenant("interrupted")
    when = dt.datetime.now(UTC)
    log_id = post(tenant, when.isoformat())["id"]
    part = next(p for p in partitions.partitions() if p.covers(when))
    partition_sql.dangerously_detach(part.name)  # then the process died
    assert tenant.api.get(f"{URL}/{log_id}").status_code == 404
    report = partitions.maintain()
    assert report.settled == [part.name]  # renamed while it is settled, so a new partition may take its name
    assert tenant.api.get(f"{URL}/{log_id}").status_code == 200  # nothing is lost
    assert partition_sql.detached_tables() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_other_dates_store_one_log() -> None:
    """The same event id sent at once from eight connections, each with another executed_at (in
    other partitions): one log is stored, and every answer names it."""
    tenant = make_tenant("retrier")
    now = dt.datetime.now(UTC)
    dates = [now - dt.timedelta(days=40 * i, minutes=i) for i in range(8)]
    partitions.create_covering(dates)
    barrier = threading.Barrier(len(dates))
    answers: list[Any] = [None] * len(dates)

    def send(i: int) -> None:
        try:
            barrier.wait()
            answers[i] = tenant.api.post(URL, log_body(executed_at=dates[i].isoformat(), event_id="same"),
                                         format="json")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(dates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert WorkflowLog.objects.filter(client=tenant.client).count() == 1
