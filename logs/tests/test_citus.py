"""The service on a Citus cluster (a coordinator and workers; scripts/citus_cluster.sh, README
"Scaling past one machine"): every request path of one tenant routed to the worker that holds it.

Skipped without a cluster: set CITUS_TEST_URL to the coordinator's database (conftest.py then
migrates it and runs `citus_setup` once, and every test runs in a transaction rolled back as
usual).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from conftest import Tenant, make_tenant, requires_citus
from logs.models import WorkflowLog
from logs.tests.factories import log_body
from metrics.flusher import flush_all

pytestmark = [requires_citus, pytest.mark.django_db]
URL = "/api/v1/logs"

# Realistic values: many scripts, a long trace, empty and missing fields.
TEXTS = ["Rückerstattung für Bestellung #4711", "退款申请：订单 4711", "Возврат средств по заказу",
         "استرداد المبلغ للطلب", "返金リクエスト 🙏", "", "x" * 5000]


def node_of(client_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nodename || ':' || nodeport FROM citus_shards WHERE table_name = 'workflow_logs'::regclass "
                       "AND shardid = get_shard_id_for_distribution_column('workflow_logs', %s)", [client_id])
        return cursor.fetchone()[0]


def tenants_on_two_workers() -> tuple[Tenant, Tenant]:
    """Two tenants whose shards are on different workers (hash placement: a few tries)."""
    first = make_tenant("citus-a")
    for n in range(64):
        other = make_tenant(f"citus-b{n}")
        if node_of(other.client.pk) != node_of(first.client.pk):
            return first, other
    raise AssertionError("every tenant hashed to one worker")


def body(n: int, **overrides: Any) -> dict[str, Any]:
    text = TEXTS[n % len(TEXTS)]
    executed = timezone.now() - dt.timedelta(hours=n + 1)
    fields = {"ticket_id": f"T-{n}", "executed_at": executed.isoformat(), "category": text[:200] or None,
              "status": ["SUCCESS", "FAILED", "ERROR", "PARTIAL"][n % 4], "execution_time_seconds": 1.5 * (n % 5),
              "workflow_version": f"v{n % 3}", "metadata": {"note": text, "tags": []},
              "payload": {"trace": {"react_iterations": [{"iteration": i, "thought": text, "observation": ""}
                                                           for i in range(1, 4)]}}}
    if fields["status"] in ("FAILED", "ERROR"):
        fields.update(workflow_error=f"Timeout calling CRM after {n} s: {text[:50]}", workflow_error_type="Timeout",
                      workflow_error_node="crm_lookup")
    return log_body(**{**fields, **overrides})


def test_the_tenant_tables_are_distributed_and_co_located(db: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name::text, citus_table_type, colocation_id FROM citus_tables")
        tables = {name: (kind, colocation) for name, kind, colocation in cursor.fetchall()}
    anchor = tables["workflow_logs"]
    for name in ("logs_event_ids", "logs_rollup", "logs_rollup_pending", "logs_rollup_version", "trace_spans",
                 "trace_log_records"):
        assert tables[name] == anchor, name
    assert tables["tenants_client"][0] == tables["tenants_apikey"][0] == "reference"
    assert anchor[0] == "distributed"


def test_setup_twice_changes_nothing(db: Any) -> None:
    out = StringIO()
    call_command("citus_setup", stdout=out)
    assert out.getvalue().startswith("Nothing to do: Citus was set up already"), out.getvalue()


def test_one_tenants_list_is_one_task_on_one_worker(alice: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT id FROM workflow_logs WHERE client_id = %s ORDER BY executed_at DESC LIMIT 50",
                       [alice.client.pk])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Task Count: 1" in plan and f"port={node_of(alice.client.pk).split(':')[1]}" in plan, plan


def test_single_and_batch_ingestion_with_a_partial_batch(db: Any) -> None:
    a, b = tenants_on_two_workers()
    single = a.api.post(URL, body(0), format="json")
    assert single.status_code == 201, single.content
    batch = b.api.post(f"{URL}/batch", {"logs": [body(1), {"status": "SUCCESS"}, body(2)]}, format="json")
    assert batch.status_code == 207, batch.content
    results = batch.json()["results"]
    assert [r["status"] for r in results][0] == "created" and results[1]["status"] == "invalid"
    assert WorkflowLog.objects.filter(client=a.client).count() == 1
    assert sorted(WorkflowLog.objects.filter(client=b.client).values_list("ticket_id", flat=True)) == ["T-1", "T-2"]
    stored = a.api.get(f"{URL}/{single.json()['id']}").json()
    assert stored["metadata"]["note"] == TEXTS[0] and stored["category"] == TEXTS[0]


def test_replays_store_each_log_once_on_every_worker(db: Any) -> None:
    a, b = tenants_on_two_workers()
    for tenant in (a, b):
        first = tenant.api.post(URL, body(3), format="json", HTTP_IDEMPOTENCY_KEY="ticket-3-run-1")
        again = tenant.api.post(URL, body(3), format="json", HTTP_IDEMPOTENCY_KEY="ticket-3-run-1")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
        logs = [body(4, event_id="e-4"), body(5, event_id="e-5")]
        tenant.api.post(f"{URL}/batch", {"logs": logs}, format="json")
        replay = tenant.api.post(f"{URL}/batch", {"logs": [*logs, body(6, event_id="e-6")]}, format="json")
        assert [r["status"] for r in replay.json()["results"]] == ["duplicate", "duplicate", "created"]
        # The same event ids in two tenants (on two workers) are two logs.
        assert WorkflowLog.objects.filter(client=tenant.client).count() == 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_event_ids WHERE client_id = ANY(%s)", [[a.client.pk, b.client.pk]])
        assert cursor.fetchone()[0] == 8


def test_list_filters_ordering_cursor_detail_and_isolation(db: Any) -> None:
    a, b = tenants_on_two_workers()
    ids = a.api.post(f"{URL}/batch", {"logs": [body(n) for n in range(12)]}, format="json").json()["ids"]
    b.api.post(f"{URL}/batch", {"logs": [body(n) for n in range(3)]}, format="json")
    failed = a.api.get(URL, {"status": "FAILED", "page_size": 50}).json()
    assert failed["pagination"]["total"] == 3 and {r["status"] for r in failed["data"]} == {"FAILED"}
    by_text = a.api.get(URL, {"category": TEXTS[1]}).json()
    assert [r["ticket_id"] for r in by_text["data"]] == ["T-1", "T-8"]
    walked, cursor = [], ""
    while cursor is not None:
        page = a.api.get(URL, {"cursor": cursor, "page_size": 5, "ordering": "-executed_at"}).json()
        walked += [r["ticket_id"] for r in page["data"]]
        cursor = page["pagination"]["next_cursor"]
    assert walked == [f"T-{n}" for n in range(12)]
    detail = a.api.get(f"{URL}/{ids[6]}")
    assert detail.status_code == 200 and detail.json()["metadata"]["note"] == "x" * 5000
    assert b.api.get(f"{URL}/{ids[6]}").status_code == 404  # another tenant's log, another worker
    assert b.api.get(f"{URL}/{uuid.uuid4()}").status_code == 404


def test_export_streams_one_tenants_logs(db: Any) -> None:
    a, b = tenants_on_two_workers()
    a.api.post(f"{URL}/batch", {"logs": [body(n) for n in range(7)]}, format="json")
    b.api.post(f"{URL}/batch", {"logs": [body(n, ticket_id=f"B-{n}") for n in range(2)]}, format="json")
    response = a.api.get(f"{URL}/export", {"format": "ndjson", "ordering": "executed_at"})
    assert response.status_code == 200
    rows = [json.loads(line) for line in io.BytesIO(b"".join(response.streaming_content)).read().splitlines()]
    assert [r["ticket_id"] for r in rows] == [f"T-{n}" for n in reversed(range(7))]
    assert rows[-2]["category"] == TEXTS[1]


def overview(tenant: Tenant) -> dict[str, Any]:
    response = tenant.api.get("/api/v1/metrics/overview", {"days": 7})
    assert response.status_code == 200, response.content
    return {name: value for name, value in response.json().items() if name not in ("period_end", "previous")}


def test_metrics_are_exact_before_and_after_the_flush_and_after_deletes(db: Any) -> None:
    a, b = tenants_on_two_workers()
    a.api.post(f"{URL}/batch", {"logs": [body(n) for n in range(20)]}, format="json")
    b.api.post(f"{URL}/batch", {"logs": [body(n, status="SUCCESS") for n in range(5)]}, format="json")
    pending = overview(a)
    assert pending["total_tickets"] == 20
    assert pending["status_counts"] == {"SUCCESS": 5, "FAILED": 5, "ERROR": 5, "PARTIAL": 5}
    assert flush_all() == 25  # each client on its own worker
    assert overview(a) == pending
    assert overview(b)["status_counts"] == {"SUCCESS": 5, "FAILED": 0, "ERROR": 0, "PARTIAL": 0}
    errors = a.api.get("/api/v1/metrics/errors", {"days": 7}).json()
    assert sum(e["count"] for e in errors["data"]) == 10
    # A delete recounts the rollup on the worker (the delete trigger), exact at once.
    WorkflowLog.objects.filter(client=a.client, status="FAILED").delete()
    after = overview(a)
    assert after["total_tickets"] == 15 and after["status_counts"]["FAILED"] == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(n) FROM logs_rollup WHERE client_id = %s AND kind = 'S' AND grain = 'd'",
                       [a.client.pk])
        assert cursor.fetchone()[0] == 15


def test_retention_prunes_one_tenant_on_its_worker(db: Any) -> None:
    a, b = tenants_on_two_workers()
    old = timezone.now() - dt.timedelta(days=40)
    for tenant in (a, b):
        logs = [body(n, executed_at=(old - dt.timedelta(hours=n)).isoformat()) for n in range(4)] + [body(9)]
        tenant.api.post(f"{URL}/batch", {"logs": logs}, format="json")
    a.client.retention_days = 30
    a.client.save()
    out = StringIO()
    call_command("prune_logs", stdout=out)  # every client: b keeps its logs (no period), so no partition goes
    assert WorkflowLog.objects.filter(client=a.client).count() == 1
    assert WorkflowLog.objects.filter(client=b.client).count() == 5
    assert overview(a)["total_tickets"] == 1


@pytest.fixture
def new_session_afterwards() -> Any:
    """Closes this process's connection after the test's transaction is rolled back (set up
    before `db`, so torn down after it): a worker session that compiled the trigger functions
    while the rolled-back column existed fails later with "cache lookup failed for type 0" (a
    committed migration does not: checked by hand, ADD and DROP COLUMN between two updates)."""
    yield
    connection.close()


def test_a_migration_after_setup_changes_every_shard(new_session_afterwards: Any, db: Any) -> None:
    # What a later migration does to a distributed table (Citus propagates the DDL to every
    # shard in the same transaction): a column and an index, used, then gone (rolled back).
    alice = make_tenant("citus-migration")
    with connection.schema_editor() as editor:
        editor.execute("ALTER TABLE workflow_logs ADD COLUMN region text")
        editor.execute("CREATE INDEX wl_client_region ON workflow_logs (client_id, region)")
    response = alice.api.post(URL, body(1), format="json")
    assert response.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("UPDATE workflow_logs SET region = 'eu-west' WHERE client_id = %s", [alice.client.pk])
        cursor.execute("SELECT region FROM workflow_logs WHERE client_id = %s", [alice.client.pk])
        assert cursor.fetchone()[0] == "eu-west"
        # Every shard has the column (a statement over all of them, in this transaction).
        cursor.execute("SELECT count(region), count(*) FILTER (WHERE region IS NULL) >= 0 FROM workflow_logs")
        assert cursor.fetchone() == (1, True)


def test_search_indexes_each_tenant_on_its_worker_and_the_backfill_refuses(db: Any) -> None:
    """The indexer takes the queue one tenant at a time (a locking statement must name its tenant
    on the cluster); a search finds only its tenant's words; a deleted log leaves no doc; the
    backfill (every tenant's logs in one statement) says it does not run here."""
    from django.core.management.base import CommandError

    from logs.search_indexer import index_all

    a, b = tenants_on_two_workers()
    def answered(n: int, text: str) -> dict[str, Any]:
        log = body(n)
        log["payload"]["final_response"] = text
        return log

    for tenant in (a, b):
        response = tenant.api.post(f"{URL}/batch", {"logs": [answered(7, f"Zanzibarflug {TEXTS[1]}"),
                                                          answered(8, TEXTS[3])]}, format="json")
        assert response.status_code == 201, response.content
    assert index_all() == 4
    found = a.api.get(URL, {"q": "zanzibarflug"}).json()
    assert found["pagination"]["total"] == 1 and found["data"][0]["match"]["field"] == "payload.final_response"
    assert a.api.get(URL, {"q": "退款"}).json()["pagination"]["total"] == 2  # both of its logs, none of b's
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM workflow_logs WHERE client_id = %s", [b.client.pk])
        cursor.execute("SELECT count(*) FROM logs_search_docs WHERE client_id = %s", [b.client.pk])
        assert cursor.fetchone()[0] == 0
    assert b.api.get(URL, {"q": "zanzibarflug"}).json()["pagination"]["total"] == 0
    with pytest.raises(CommandError, match="does not run on a Citus cluster"):
        call_command("index_search", "--backfill", stdout=StringIO())


def test_the_spool_drains_into_the_cluster_exactly_once(db: Any) -> None:
    # The coordinator unreachable (as spool/tests/test_spool.py makes any database): single logs,
    # a batch and a replay are spooled; back, `drain_spool` stores each once on its tenant's worker.
    from spool.tests.test_spool import database_down, drain, warm_up

    a, b = tenants_on_two_workers()
    warm_up(a)
    warm_up(b)
    with database_down():
        singles = [a.api.post(URL, body(n, event_id=f"sp-{n}"), format="json") for n in range(6)]
        replay = a.api.post(URL, body(0, event_id="sp-0"), format="json")
        batch = b.api.post(f"{URL}/batch", {"logs": [body(n, event_id=f"sp-{n}") for n in range(10)]}, format="json")
    assert [r.status_code for r in singles] == [202] * 6 and batch.status_code == 202, batch.content
    assert replay.status_code == 200 and replay.json()["id"] == singles[0].json()["id"]
    assert WorkflowLog.objects.filter(client__in=[a.client, b.client]).count() == 0

    assert drain().startswith("drained 16 logs (0 already stored, 0 dead letters); 0 remaining")
    assert drain().startswith("drained 0 logs")
    for tenant, count in ((a, 6), (b, 10)):
        stored = list(WorkflowLog.objects.filter(client=tenant.client).values_list("event_id", flat=True))
        assert sorted(stored) == sorted(f"sp-{n}" for n in range(count))  # each once
    assert {str(pk) for pk in WorkflowLog.objects.filter(client=a.client).values_list("id", flat=True)} == {
        r.json()["id"] for r in singles}
    stored = a.api.get(f"{URL}/{singles[1].json()['id']}").json()
    assert stored["metadata"]["note"] == TEXTS[1] and "accepted_at" in stored["extra"]["_spooled"]
    # The rollup counted them on their workers: exact before and after the flush.
    pending = overview(b)
    assert pending["total_tickets"] == 10
    assert pending["status_counts"] == {"SUCCESS": 3, "FAILED": 3, "ERROR": 2, "PARTIAL": 2}
    flush_all()
    assert overview(b) == pending and overview(a)["total_tickets"] == 6
