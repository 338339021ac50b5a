"""One database node down while the others answer (a Citus worker: README "Citus", failure modes).

The coordinator then answers the statements of the tenants on that worker with its own connection
error, SQLSTATE 08006 ("connection to the remote node ... failed"). Here one PostgreSQL server
sends exactly that error for one tenant's rows, from a trigger of the test's transaction: the
service sees what it sees on a cluster (the drill, scripts/citus_worker_down_drill.py, does it
with a real worker stopped).
"""
from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from central_logger import dbguard
from conftest import Tenant
from logs import partitions
from logs.models import WorkflowLog
from logs.tests.factories import log_body
from spool import drain as spool_drain
from spool import store
from spool.tests.test_spool import database_down, warm_up
from tenants.models import ApiKey
from tenants.services import api_key_touch

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs"
NODE_DOWN = "connection to the remote node root@10.0.0.7:5432 failed with the following error: Connection refused"


def node_down_for(table: str, client_id: int, *, when: str = "INSERT") -> None:
    """From now on (until the test's transaction rolls back, or `node_up`) the server refuses the
    rows of `client_id` in `table` as a coordinator refuses those of a worker it cannot reach."""
    with connection.cursor() as cursor:
        cursor.execute(f"""CREATE OR REPLACE FUNCTION test_node_down() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION USING ERRCODE = 'connection_failure', MESSAGE = '{NODE_DOWN}'; END $$""")
        cursor.execute(f"CREATE TRIGGER test_node_down BEFORE {when} ON {table} FOR EACH ROW "
                       f"WHEN (NEW.client_id = {int(client_id)}) EXECUTE FUNCTION test_node_down()")


def partitions_made() -> None:
    """The month of the logs' date has its partition before a node goes down (as in service: a
    partition made on demand inside the failing statement's savepoint would roll back with it)."""
    partitions.ensure_covered([dt.datetime.fromisoformat(log_body()["executed_at"].replace("Z", "+00:00"))])
    partitions.invalidate()


def node_up(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER test_node_down ON {table}")
    dbguard.reset()  # as DB_CIRCUIT_OPEN_SECONDS later


def server_error(sql: str) -> OperationalError:
    with pytest.raises(OperationalError) as caught, connection.cursor() as cursor:
        cursor.execute("SAVEPOINT probe")
        try:
            cursor.execute(sql)
        finally:
            cursor.execute("ROLLBACK TO SAVEPOINT probe")
    return caught.value


def test_only_a_connection_error_the_server_sends_is_a_node_down(db: Any) -> None:
    node = server_error(f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'connection_failure', MESSAGE = '{NODE_DOWN}'; END $$")
    assert dbguard.node_failure(node) and dbguard.node_failure(node.__cause__)
    cancelled = server_error("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")
    assert not dbguard.node_failure(cancelled)  # a statement timeout: the database itself is slow
    with pytest.raises(psycopg.OperationalError) as refused:  # nothing listens: the database is away
        psycopg.connect("postgres://nobody@127.0.0.1:1/none", connect_timeout=1)
    assert not dbguard.node_failure(refused.value)
    assert not dbguard.node_failure(OperationalError("The database is unavailable (circuit open)."))


def test_a_node_down_spools_its_tenants_and_the_others_are_stored(alice: Tenant, bob: Tenant) -> None:
    warm_up(alice)
    warm_up(bob)
    partitions_made()
    node_down_for("workflow_logs", alice.client.pk)
    spooled = [alice.api.post(URL, log_body(ticket_id=f"A-{n}", event_id=f"a-{n}"), format="json") for n in range(3)]
    batch = alice.api.post(f"{URL}/batch", {"logs": [log_body(ticket_id="A-b", event_id="a-b")]}, format="json")
    stored = [bob.api.post(URL, log_body(ticket_id=f"B-{n}", event_id=f"b-{n}"), format="json") for n in range(3)]
    assert [r.status_code for r in spooled] == [202, 202, 202] and batch.status_code == 202
    assert [r.status_code for r in stored] == [201, 201, 201]  # not skipped by alice's breaker
    assert dbguard.circuit_open(alice.client.pk) and not dbguard.circuit_open(bob.client.pk)
    assert not dbguard.circuit_open()
    assert WorkflowLog.objects.filter(client=alice.client).count() == 0
    assert store.spool_stats().rows == 4

    node_up("workflow_logs")
    out = StringIO()
    call_command("drain_spool", stdout=out)
    assert out.getvalue().startswith("drained 4 logs (0 already stored, 0 dead letters); 0 remaining")
    assert sorted(WorkflowLog.objects.filter(client=alice.client).values_list("event_id", flat=True)) == [
        "a-0", "a-1", "a-2", "a-b"]
    assert WorkflowLog.objects.filter(client=bob.client).count() == 3


def test_the_drain_stores_the_live_nodes_tenants_past_a_down_ones_rows(alice: Tenant, bob: Tenant) -> None:
    warm_up(alice)
    warm_up(bob)
    with database_down():  # alice's logs first in the spool, then bob's
        ids = {tenant.client.pk: [tenant.api.post(URL, log_body(ticket_id=f"T-{n}"), format="json").json()["id"]
                                  for n in range(3)] for tenant in (alice, bob)}
    partitions_made()
    node_down_for("workflow_logs", alice.client.pk)
    report = spool_drain.spool_drain(batch_size=2)  # bob's rows come after two batches of alice's
    assert report.inserted == 3 and report.remaining == 3
    assert report.error == "a database node of 1 clients is unreachable"
    assert not dbguard.circuit_open()  # ingestion of the other tenants is not skipped
    assert sorted(str(i) for i in WorkflowLog.objects.filter(client=bob.client).values_list("id", flat=True)) == sorted(
        ids[bob.client.pk])

    node_up("workflow_logs")
    report = spool_drain.spool_drain(batch_size=2)
    assert (report.inserted, report.remaining, report.error) == (3, 0, None)
    for client_id, mine in ids.items():
        stored = WorkflowLog.objects.filter(client_id=client_id).values_list("id", flat=True)
        assert sorted(str(i) for i in stored) == sorted(mine)  # each once


def test_a_key_is_used_while_a_node_refuses_writes_to_the_key_table(alice: Tenant) -> None:
    # On a cluster the key table is a reference table: one worker down refuses every write to it.
    key = ApiKey.objects.get(client=alice.client)
    old = timezone.now() - dt.timedelta(days=1)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=old)
    key.refresh_from_db()
    node_down_for("tenants_apikey", alice.client.pk, when="UPDATE")
    api_key_touch(api_key=key)  # no error: the request goes on
    assert ApiKey.objects.get(pk=key.pk).last_used_at == old
    response = alice.api.post(URL, log_body(ticket_id="T-key"), format="json")
    assert response.status_code == 201
    assert ApiKey.objects.get(pk=key.pk).last_used_at == old  # recorded at a later use
    node_up("tenants_apikey")
    api_key_touch(api_key=key)
    assert ApiKey.objects.get(pk=key.pk).last_used_at > old
