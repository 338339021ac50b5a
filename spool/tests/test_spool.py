"""The durable spool: accepting logs while PostgreSQL is down or slow, and draining them exactly once."""
from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import override_settings
from django.utils import timezone

from central_logger import dbguard
from conftest import Tenant
from spool import drain as spool_drain_module
from spool import store
from logs.models import WorkflowLog
from logs.tests.factories import log_body
from tenants.models import ApiKey

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
BATCH_URL = "/api/v1/logs/batch"


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """Every new use of the database fails as if PostgreSQL were stopped."""
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=OperationalError("down")):
        yield
    dbguard.reset()  # the breaker would skip the database for DB_CIRCUIT_OPEN_SECONDS more


def warm_up(tenant: Tenant) -> None:
    """A first request while the database is up: the service now knows this key."""
    response = tenant.api.post(URL, {"environment": "production", "test": True}, format="json")
    assert response.status_code == 200


def drain() -> str:
    out = StringIO()
    call_command("drain_spool", stdout=out)
    return out.getvalue()


def test_known_key_keeps_ingesting_into_the_spool_when_the_database_is_down(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        response = alice.api.post(URL, log_body(ticket_id="T-1"), format="json")
    assert response.status_code == 202
    data = response.json()
    assert data["spooled"] is True and data["duplicate"] is False and data["ticket_id"] == "T-1"
    assert WorkflowLog.objects.count() == 0
    assert store.spool_stats().rows == 1

    assert drain().startswith("drained 1 logs (0 already stored, 0 dead letters); 0 remaining")
    row = WorkflowLog.objects.get(pk=data["id"])
    assert row.client == alice.client and row.ticket_id == "T-1" and row.status == "SUCCESS"
    assert row.payload["trace"]["react_iterations"][0]["action"] == "lookup_order"
    assert row.extra["client_id"] == "whatever-the-client-says"
    assert "accepted_at" in row.extra["_spooled"]
    # a second drain finds nothing: exactly once
    assert drain().startswith("drained 0 logs")
    assert WorkflowLog.objects.count() == 1


def test_batch_is_spooled_with_ids_in_request_order(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        response = alice.api.post(BATCH_URL, {"logs": [log_body(ticket_id=str(i)) for i in range(3)]}, format="json")
    assert response.status_code == 202
    data = response.json()
    assert data["spooled"] is True and data["created"] == 3 and data["count"] == 3
    drain()
    assert [WorkflowLog.objects.get(pk=pk).ticket_id for pk in data["ids"]] == ["0", "1", "2"]


def test_batch_with_invalid_logs_during_outage_is_207_and_spools_the_valid_ones(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        response = alice.api.post(BATCH_URL, {"logs": [log_body(), log_body(status="NOPE")]}, format="json")
    assert response.status_code == 207
    assert response.json()["spooled"] is True
    assert [r["status"] for r in response.json()["results"]] == ["created", "invalid"]
    drain()
    assert WorkflowLog.objects.count() == 1


def test_drain_preserves_acceptance_order(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        # One second apart: ids carry executed_at, so their order is the order of acceptance.
        ids = [alice.api.post(URL, log_body(ticket_id=f"T{i}", executed_at=f"2025-01-01T12:00:0{i}Z"),
                              format="json").json()["id"] for i in range(5)]
    report = spool_drain_module.spool_drain(batch_size=2, max_batches=1)
    assert (report.inserted, report.remaining) == (2, 3)
    assert set(WorkflowLog.objects.values_list("ticket_id", flat=True)) == {"T0", "T1"}
    report = spool_drain_module.spool_drain(batch_size=2)
    assert report.batches == [2, 1] and report.inserted == 3
    assert [str(pk) for pk in WorkflowLog.objects.order_by("id").values_list("id", flat=True)] == ids


def test_a_log_already_in_the_database_is_not_stored_twice(alice: Tenant) -> None:
    # As after a crash between the drainer's INSERT and its DELETE, or a write the database
    # committed after we had given up on it: the same id is in both places.
    warm_up(alice)
    with database_down():
        log_id = alice.api.post(URL, log_body(), format="json").json()["id"]
    assert spool_drain_module.spool_drain().inserted == 1
    fields = {k: v for k, v in WorkflowLog.objects.values().get(pk=log_id).items()
              if k not in ("id", "client_id", "created_at", "event_id")}
    store.spool_put(client_id=alice.client.pk, api_key_id=None,
                    items=[store.SpoolItem(id=log_id, event_id=None, fields=fields)])
    report = spool_drain_module.spool_drain()
    assert (report.inserted, report.skipped, report.remaining) == (0, 1, 0)
    assert WorkflowLog.objects.filter(pk=log_id).count() == 1


def test_retry_with_the_same_event_id_during_the_outage_is_a_duplicate(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        first = alice.api.post(URL, log_body(event_id="evt-9"), format="json")
        again = alice.api.post(URL, log_body(event_id="evt-9"), format="json")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True and again.json()["spooled"] is True
    # back online but not yet drained: the spool still answers for the event_id
    after = alice.api.post(URL, log_body(event_id="evt-9"), format="json")
    assert after.status_code == 200 and after.json()["id"] == first.json()["id"]
    drain()
    assert list(WorkflowLog.objects.values_list("id", flat=True)) == [mock.ANY]
    assert str(WorkflowLog.objects.get().id) == first.json()["id"]


def test_event_id_stored_before_the_outage_is_not_stored_again_after_draining(alice: Tenant) -> None:
    original = alice.api.post(URL, log_body(event_id="evt-1"), format="json")
    assert original.status_code == 201
    with database_down():
        retried = alice.api.post(URL, log_body(event_id="evt-1"), format="json")
    assert retried.status_code == 202  # the database could not be asked
    report = spool_drain_module.spool_drain()
    assert (report.inserted, report.skipped) == (0, 1)
    assert list(WorkflowLog.objects.filter(event_id="evt-1").values_list("id", flat=True)) == [
        WorkflowLog.objects.get(pk=original.json()["id"]).id]


def test_event_ids_in_the_spool_are_per_tenant(alice: Tenant, bob: Tenant) -> None:
    warm_up(alice)
    warm_up(bob)
    with database_down():
        mine = alice.api.post(URL, log_body(event_id="shared"), format="json")
        theirs = bob.api.post(URL, log_body(event_id="shared"), format="json")
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]
    drain()
    assert WorkflowLog.objects.filter(client=alice.client).count() == 1
    assert WorkflowLog.objects.filter(client=bob.client).count() == 1


def test_unknown_key_during_outage_is_503_not_spooled(alice: Tenant) -> None:
    with database_down():
        response = alice.api.post(URL, log_body(), format="json")
    assert response.status_code == 503 and response["Retry-After"]
    assert store.spool_stats().rows == 0


def test_wrong_secret_of_a_known_key_is_401_during_outage(alice: Tenant) -> None:
    warm_up(alice)
    forged = alice.key[:-4] + ("AAAA" if not alice.key.endswith("AAAA") else "BBBB")
    with database_down():
        alice.api.credentials(HTTP_X_API_KEY=forged)
        response = alice.api.post(URL, log_body(), format="json")
    assert response.status_code == 503  # not verifiable offline: no spooling, no 2xx
    assert store.spool_stats().rows == 0


def test_log_of_a_key_revoked_before_the_outage_is_not_stored(alice: Tenant) -> None:
    warm_up(alice)
    # Revoked on another host, whose revocation this host's snapshot has not heard of yet (its
    # sync runs every KEY_SNAPSHOT_SYNC_INTERVAL): the row changes, nothing here is told.
    ApiKey.objects.filter(prefix=alice.key.split("_")[1]).update(revoked_at=timezone.now())
    dbguard.mark_failure()
    with database_down():
        response = alice.api.post(URL, log_body(), format="json")
    assert response.status_code == 202
    report = spool_drain_module.spool_drain()
    assert (report.inserted, report.dead) == (0, 1)
    assert WorkflowLog.objects.count() == 0
    assert store.spool_stats().dead_letters == 1


def test_logs_accepted_after_the_client_was_deactivated_are_not_stored(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        before = alice.api.post(URL, log_body(ticket_id="before"), format="json")
    time.sleep(0.01)
    # Deactivated on another host, which this host's snapshot has not heard of yet.
    type(alice.client).objects.filter(pk=alice.client.pk).update(is_active=False, deactivated_at=timezone.now())
    time.sleep(0.01)
    with database_down():
        after = alice.api.post(URL, log_body(ticket_id="after"), format="json")
    assert (before.status_code, after.status_code) == (202, 202)
    report = spool_drain_module.spool_drain()
    assert (report.inserted, report.dead) == (1, 1)
    assert list(WorkflowLog.objects.values_list("ticket_id", flat=True)) == ["before"]
    assert store.spool_stats().dead_letters == 1


def test_full_spool_is_503_with_retry_after_and_not_ready(alice: Tenant, anon: Any, settings: Any) -> None:
    warm_up(alice)
    with database_down():
        first = alice.api.post(URL, log_body(), format="json")
        settings.SPOOL_MAX_BYTES = store.spool_stats().bytes  # exactly one log fits
        second = alice.api.post(URL, log_body(), format="json")
        ready = anon.get("/health/ready")
    assert first.status_code == 202
    assert second.status_code == 503
    assert second.json()["error"]["code"] == "spool_full"
    assert int(second["Retry-After"]) > 0
    assert store.spool_stats().rows == 1
    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["database unreachable", "spool full"]


def test_spooled_logs_survive_a_restart(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        log_id = alice.api.post(URL, log_body(), format="json").json()["id"]
    store.close_connections()  # as a restarted process: nothing in memory, only the file
    assert store.spool_stats().rows == 1
    assert drain().startswith("drained 1 logs")
    assert WorkflowLog.objects.filter(pk=log_id).exists()


def test_known_keys_survive_a_restart_for_outage_authentication(alice: Tenant) -> None:
    from tenants import keysnapshot

    warm_up(alice)
    keysnapshot.forget_all()
    keysnapshot.close()  # a fresh worker: only the snapshot file remains
    with database_down():
        assert alice.api.post(URL, log_body(), format="json").status_code == 202


def test_drain_while_the_database_is_still_down_keeps_the_logs(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        alice.api.post(URL, log_body(), format="json")
        with pytest.raises(CommandError, match="unavailable"):
            call_command("drain_spool", stdout=StringIO())
    assert store.spool_stats().rows == 1


def test_only_one_drainer_at_a_time(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        alice.api.post(URL, log_body(), format="json")
    with open(store.spool_path() + ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(CommandError, match="Another drainer"):
            call_command("drain_spool", stdout=StringIO())
    assert drain().startswith("drained 1 logs")


def test_drain_spool_status(alice: Tenant) -> None:
    warm_up(alice)
    with database_down():
        alice.api.post(URL, log_body(), format="json")
    out = StringIO()
    call_command("drain_spool", "--status", stdout=out)
    assert out.getvalue().startswith("spool: 1 logs, ")


@override_settings(INGEST_DB_TIMEOUT_MS=300)
def test_slow_database_spools_within_the_ingestion_budget(alice: Tenant, django_db_blocker: Any) -> None:
    """A real statement_timeout: another session holds a lock that our INSERT must wait for."""
    import psycopg

    warm_up(alice)  # authenticates without touching workflow_logs
    with psycopg.connect(**connection.standalone_params()) as locker:
        locker.execute("LOCK TABLE workflow_logs IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = alice.api.post(URL, log_body(), format="json")
        elapsed = time.monotonic() - started
        locker.rollback()
    assert response.status_code == 202 and response.json()["spooled"] is True
    assert elapsed < 1.0
    dbguard.reset()
    assert spool_drain_module.spool_drain().inserted == 1


def test_deadline_cuts_off_a_database_that_does_not_answer(db: Any) -> None:
    """A frozen server never enforces its own statement_timeout: the client-side deadline does."""
    import psycopg

    conn = dbguard.DeadlineConnection.connect(**connection.standalone_params())
    started = time.monotonic()
    with dbguard.db_deadline(0.2), pytest.raises(psycopg.OperationalError, match="deadline"):
        conn.execute("SELECT pg_sleep(3)")
    assert time.monotonic() - started < 1.0
    assert conn.closed


def test_readiness_reports_database_and_spool(anon: Any) -> None:
    response = anon.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["reasons"] == []
    assert body["spool"]["rows"] == 0 and body["spool"]["full"] is False
    with database_down():
        down = anon.get("/health/ready")
    assert down.status_code == 503 and down.json()["reasons"] == ["database unreachable"]
    assert down["Retry-After"]


@pytest.mark.django_db(transaction=True)
def test_background_drainer_moves_logs_without_a_restart(settings: Any) -> None:
    from conftest import make_tenant

    tenant = make_tenant("drainme")
    warm_up(tenant)
    with database_down():
        log_id = tenant.api.post(URL, log_body(), format="json").json()["id"]
    settings.SPOOL_DRAIN_INTERVAL = 0.05
    try:
        spool_drain_module.drainer.ensure()
        for _ in range(100):
            if WorkflowLog.objects.filter(pk=log_id).exists():
                break
            time.sleep(0.05)
    finally:
        spool_drain_module.drainer.stop()
    assert WorkflowLog.objects.filter(pk=log_id).count() == 1
    assert store.spool_stats().rows == 0
